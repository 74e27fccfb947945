//! Named schemas: besides its own schema (the profile `public`), a project may expose
//! other schemas by name, as PostgREST exposes several database schemas chosen with the
//! `Accept-Profile` / `Content-Profile` headers.
//!
//! | | where a named schema `analytics` lives |
//! |---|---|
//! | PostgreSQL (shared and dedicated) | the schema `p_<id>__analytics` next to the project's `p_<id>`, in the same database, with the same roles, grants and forced RLS |
//! | MySQL / MariaDB | the database `p_<id>__analytics` on the project's server |
//! | SQLite | the file `<data_dir>/<id>__analytics.sqlite` beside the project's (an in-memory database of its own for in-memory projects) |
//!
//! Each holds its own migration history (applied through the same planner as
//! [`Platform::apply_schema`]); the platform table `project_schemas` lists them with their
//! version. Applying or dropping one is announced like a schema applied
//! ([`EventKind::SchemaApplied`]), so other processes reload the project's list of
//! profiles and its handles. Deleting a project drops its named schemas.
//!
//! Named schemas hold only the tables given: the modules' project tables (auth's users…)
//! stay in `public`. Requests run with the project's roles and claims in every profile,
//! so `auth.uid` policies work the same.

use std::sync::Arc;
use std::time::SystemTime;

use easbase_schema::migrate::{self, ApplyOptions, ApplyReport};
use easbase_schema::{Dialect, Schema};
use serde::Serialize;

use super::router::Lookup;
use super::store::{self, ProjectRow};
use super::{EventKind, Isolation, Platform, ProjectDb, ProjectDbParts, ProjectStatus, executor, provision};
use crate::context::ProjectId;
use crate::error::{Error, Result};

/// The profile of a project's own schema (PostgREST's default schema name).
pub const DEFAULT_PROFILE: &str = "public";

/// The longest name of a named schema.
const MAX_NAME: usize = 24;

/// A named schema of a project ([`Platform::named_schemas`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedSchema {
    /// Its name: the profile clients ask for.
    pub name: String,
    /// The version last applied.
    pub version: Option<String>,
    /// When it was first applied (Unix seconds).
    pub created_at: i64,
}

/// Checks the name of a named schema: `[a-z][a-z0-9_]*`, at most 24 bytes, not `public`,
/// not starting with `pg_` or `easbase`, and short enough that its storage name
/// (`p_<id>__<name>`) fits PostgreSQL's 63 bytes.
fn check_name(id: &ProjectId, name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidName(format!("the schema name `{name}` {why}")));
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase())
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return bad("must be lower-case letters, digits and `_`, starting with a letter");
    }
    if name.len() > MAX_NAME {
        return bad("is longer than 24 bytes");
    }
    if name == DEFAULT_PROFILE {
        return bad("is the project's own schema");
    }
    if name.starts_with("pg_") || name.starts_with("easbase") {
        return bad("is reserved (`pg_*`, `easbase*`)");
    }
    if format!("p_{id}__{name}").len() > 63 {
        return bad("is too long for this project's id");
    }
    Ok(())
}

impl Platform {
    /// The named schemas of a project (besides `public`), by name.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn named_schemas(&self, id: &ProjectId) -> Result<Vec<NamedSchema>> {
        let rows = self.inner.db.query(self.inner.store.named_schemas_of(id.as_str())).await?;
        rows.iter()
            .map(|r| {
                Ok(NamedSchema {
                    name: r.text("name")?,
                    version: r.opt_text("schema_version")?,
                    created_at: r.int("created_at")?,
                })
            })
            .collect()
    }

    /// `public`, then the project's named schemas by name.
    pub(super) async fn profiles_of(&self, id: &ProjectId) -> Result<Arc<[String]>> {
        let mut profiles = vec![DEFAULT_PROFILE.to_owned()];
        profiles.extend(self.named_schemas(id).await?.into_iter().map(|s| s.name));
        Ok(profiles.into())
    }

    /// Creates or migrates the named schema `name` of a project (see [named
    /// schemas](crate::project#named-schemas)): [`Platform::apply_schema`] for another
    /// schema of the project, with
    /// the same migration planning (destructive steps need `allow_destructive`, the same
    /// version twice is a no-op, another schema under a version already applied is
    /// drift). The schema holds only `schema`'s tables (no module's). A first apply that
    /// fails leaves nothing behind.
    ///
    /// ```
    /// use easbase_core::db::{Db, SqliteConfig};
    /// use easbase_core::project::{CreateProject, Platform, PlatformConfig};
    /// use easbase_core::schema::Schema;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> easbase_core::Result<()> {
    /// let db = Db::open_sqlite(SqliteConfig::in_memory())?;
    /// let platform = Platform::open(db, PlatformConfig::new("http://localhost"), Vec::new()).await?;
    /// let project = platform.create_project("owner", "Shop", CreateProject::default()).await?.project;
    /// let events = Schema::from_json(r#"{ "tables": [ { "name": "events", "columns": [
    ///     { "name": "id", "type": "integer", "primary": true } ] } ] }"#)?;
    /// platform.apply_schema_named(&project.id, "analytics", "1", &events, false).await?;
    /// let pdb = platform.project_db_named(&project.id, "analytics").await?;
    /// assert!(pdb.schema().is_some_and(|s| s.table("events").is_some()));
    /// assert_eq!(pdb.profiles(), ["public", "analytics"]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a bad name, [`Error::Config`] for a project that is not
    /// ready or paused, or serves an adopted schema; [`Error::Schema`] (invalid,
    /// destructive without opt-in, drift), [`Error::Database`].
    pub async fn apply_schema_named(
        &self,
        id: &ProjectId,
        name: &str,
        version: &str,
        schema: &Schema,
        allow_destructive: bool,
    ) -> Result<ApplyReport> {
        check_name(id, name)?;
        let row = self.row(id).await?;
        if !matches!(row.project.status, ProjectStatus::Ready | ProjectStatus::Paused) {
            return Err(Error::Config(format!("project {id} is {}", row.project.status)));
        }
        if row.adopt.is_some() {
            return Err(Error::Config(format!(
                "project {id} serves an existing schema: it has no named schemas"
            )));
        }
        // Refuse a broken schema before anything is made.
        schema.validate_for(self.inner.db.dialect()).map_err(easbase_schema::Error::from)?;
        let existing = self.named_schemas(id).await?.iter().any(|s| s.name == name);
        let public = self.open_project_db(id).await?;
        provision::prepare_named(self, &row, &public, name).await?;
        let applied = async {
            let pdb = self.open_named(id, &row, name).await?;
            let options = ApplyOptions { ddl: pdb.ddl_options(), allow_destructive };
            let report =
                migrate::apply(&mut executor::DbExecutor(pdb.db()), version, schema, &options).await?;
            let store = &self.inner.store;
            let stmt = if existing {
                store.set_named_version(id.as_str(), name, version)
            } else {
                store.insert_named_schema(id.as_str(), name, version, store::unix(SystemTime::now()))
            };
            self.commit_with_event(vec![stmt], EventKind::SchemaApplied, id, None).await?;
            Ok::<_, Error>(report)
        }
        .await;
        // Its handles (and the project's list of profiles) are read again on next use.
        self.inner.router.mark_stale(id.as_str());
        match applied {
            Ok(report) => Ok(report),
            Err(e) => {
                if !existing
                    && let Err(undo) = provision::undo_named(self, &row, Some(public.db()), name).await
                {
                    tracing::warn!(project = %id, error = %undo, "undoing a failed named schema failed");
                }
                Err(e)
            }
        }
    }

    /// Drops the named schema `name` of a project, its tables and rows included.
    ///
    /// # Errors
    /// [`Error::Guard`] for `public` (delete the project instead), [`Error::InvalidName`],
    /// [`Error::Config`] when the project has no such schema, [`Error::Database`].
    pub async fn drop_schema_named(&self, id: &ProjectId, name: &str) -> Result<()> {
        if name == DEFAULT_PROFILE {
            return Err(Error::Guard(
                "the public schema is the project's own: delete the project instead".into(),
            ));
        }
        check_name(id, name)?;
        let row = self.row(id).await?;
        if !self.named_schemas(id).await?.iter().any(|s| s.name == name) {
            return Err(Error::Config(format!("project {id} has no schema `{name}`")));
        }
        // Unlisted first (every process stops routing to it), then removed.
        let stmts = vec![self.inner.store.delete_named_schema(id.as_str(), name)];
        self.commit_with_event(stmts, EventKind::SchemaApplied, id, None).await?;
        self.inner.router.mark_stale(id.as_str());
        let public = self.named_host(&row).await?;
        provision::undo_named(self, &row, public.as_ref(), name).await
    }

    /// Drops every named schema of a project being deleted (a dedicated PostgreSQL
    /// project's go with its database).
    pub(super) async fn drop_named_schemas_of(&self, row: &ProjectRow) -> Result<()> {
        let named = self.named_schemas(&row.project.id).await?;
        if named.is_empty()
            || (self.inner.db.dialect() == Dialect::Postgres && row.project.isolation == Isolation::Dedicated)
        {
            return Ok(());
        }
        for schema in named {
            provision::undo_named(self, row, None, &schema.name).await?;
        }
        Ok(())
    }

    /// PostgreSQL, dedicated: the project's own pool (its named schemas live in its
    /// database); `None` otherwise (the platform's database, or not PostgreSQL).
    async fn named_host(&self, row: &ProjectRow) -> Result<Option<crate::db::Db>> {
        if self.inner.db.dialect() == Dialect::Postgres && row.project.isolation == Isolation::Dedicated {
            return Ok(Some(self.open_project_db(&row.project.id).await?.db().clone()));
        }
        Ok(None)
    }

    /// Where the named schema `name` of a ready project is reached: a [`ProjectDb`] with
    /// its own [`db`](ProjectDb::db), [`pg_schema`](ProjectDb::pg_schema) and
    /// [`schema`](ProjectDb::schema), and the project's roles and
    /// [`scope`](ProjectDb::scope). `public` is [`Platform::project_db`].
    ///
    /// # Errors
    /// [`Error::Config`] when the project has no such schema; the errors of
    /// [`Platform::project_db`].
    pub async fn project_db_named(&self, id: &ProjectId, name: &str) -> Result<ProjectDb> {
        let public = self.open_project_db(id).await?;
        if name == DEFAULT_PROFILE {
            return Ok(public);
        }
        if !public.has_profile(name) {
            // Dropped (perhaps by another process): its handle goes too.
            self.inner.router.forget_key(&format!("{id}/{name}"));
            return Err(Error::Config(format!("project {id} has no schema `{name}`")));
        }
        let key = format!("{id}/{name}");
        let router = &self.inner.router;
        let epoch = router.epoch();
        match router.get(&key) {
            Lookup::Hit(pdb) => Ok(pdb),
            Lookup::Stale(mut pdb) => {
                let schema = provision::current_schema(&pdb).await?.map(Arc::new);
                let parts = pdb.parts_mut();
                parts.schema = schema;
                parts.profiles = public.parts.profiles.clone();
                router.set_schema(&key, parts.schema.clone(), Some(parts.profiles.clone()), epoch);
                Ok(pdb)
            }
            Lookup::Miss => {
                let row = self.row(id).await?;
                self.open_named(id, &row, name).await
            }
        }
    }

    /// Opens (or takes from the router) the handle of a named schema, listed or not.
    async fn open_named(&self, id: &ProjectId, row: &ProjectRow, name: &str) -> Result<ProjectDb> {
        let key = format!("{id}/{name}");
        let router = &self.inner.router;
        let epoch = router.epoch();
        if let Lookup::Hit(pdb) | Lookup::Stale(pdb) = router.get(&key) {
            // A stale one is reloaded by the caller that needs its schema.
            return Ok(pdb);
        }
        let public = self.open_project_db(id).await?;
        let opened = provision::named_database(self, row, &public, name)?;
        let pg_schema =
            (self.inner.db.dialect() == Dialect::Postgres).then(|| provision::named_storage(id, name));
        let mut pdb = ProjectDb::new(ProjectDbParts {
            project: id.clone(),
            db: opened.db,
            pg_schema,
            roles: public.parts.roles.clone(),
            schema: None,
            in_memory: opened.in_memory,
            adopted: false,
            profile: Some(Arc::from(name)),
            profiles: public.parts.profiles.clone(),
            _pool: opened.guard,
        });
        pdb.parts_mut().schema = provision::current_schema(&pdb).await?.map(Arc::new);
        Ok(router.insert(pdb, epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let id = ProjectId::new("0123456789abcdef0123456789abcdef").unwrap();
        for ok in ["analytics", "a", "v2_data", "x23456789012345678901234"] {
            assert!(check_name(&id, ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "public",
            "Analytics",
            "_x",
            "9a",
            "pg_catalog",
            "easbase_x",
            "a-b",
            "a b",
            "x234567890123456789012345",
        ] {
            assert!(matches!(check_name(&id, bad), Err(Error::InvalidName(_))), "{bad}");
        }
    }
}
