//! The [`Module`] trait: how other crates (auth, REST, storage) add their tables, roles
//! and provisioning steps to every project without core depending on them.

use async_trait::async_trait;
use easbase_schema::Schema;

use crate::context::ProjectId;
use crate::context::jwt::JwtKey;
use crate::db::Db;
use crate::error::Result;
use crate::project::ProjectDb;
use crate::schema::Ident;

/// A part of the platform that adds to every project.
///
/// ```
/// use easbase_core::module::Module;
/// use easbase_core::schema::Schema;
///
/// struct Notes;
///
/// #[async_trait::async_trait]
/// impl Module for Notes {
///     fn name(&self) -> &'static str {
///         "notes"
///     }
///     fn project_schema(&self) -> Schema {
///         Schema::from_json(r#"{ "tables": [ { "name": "notes", "columns": [
///             { "name": "id", "type": "identity", "primary": true },
///             { "name": "body", "type": "text" } ] } ] }"#).unwrap()
///     }
/// }
/// ```
#[async_trait]
pub trait Module: Send + Sync {
    /// A short name (`auth`, `storage`), used in errors and migration versions.
    fn name(&self) -> &'static str;

    /// Tables this module adds to each project's own schema (merged with the project's
    /// tables; a name clash is a validation error).
    fn project_schema(&self) -> Schema {
        Schema::default()
    }

    /// Tables this module adds once to the platform database, shared by all projects
    /// (they should carry a `project_id` column).
    fn platform_schema(&self) -> Schema {
        Schema::default()
    }

    /// Runs after a project's tables exist (seed rows, extra grants). Must be idempotent:
    /// a resumed provisioning calls it again.
    ///
    /// # Errors
    /// Any error fails the provisioning, which is then undone.
    async fn provision(&self, project: &ProjectDb) -> Result<()> {
        let _ = project;
        Ok(())
    }

    /// Keys that verify a project's end-user tokens besides its HS256 secret (the auth
    /// module's asymmetric signing keys), read from the platform database `platform`
    /// (whose tables live in `platform_schema` on PostgreSQL). The request path asks when
    /// it loads one of the project's API keys and caches the answer with it.
    ///
    /// # Errors
    /// Any error fails the key lookup (the request is answered with it).
    async fn jwt_keys(
        &self,
        platform: &Db,
        platform_schema: &Ident,
        project: &ProjectId,
    ) -> Result<Vec<JwtKey>> {
        let _ = (platform, platform_schema, project);
        Ok(Vec::new())
    }
}
