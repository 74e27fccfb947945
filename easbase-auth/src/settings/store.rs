//! The platform table `auth_project_settings`: one row per project (deleted with it), the
//! settings as JSON (client secrets left out), the sealed client secrets as JSON, and a
//! version for optimistic concurrency.

use std::collections::BTreeMap;

use easbase_core::context::ProjectId;
use easbase_core::db::{Db, Scope};
use easbase_core::project::Platform;
use easbase_core::schema::{Dialect, Ident, Schema};
use sea_query::{Alias, Expr, ExprTrait, IntoTableRef, Query, TableRef};

use super::{Effective, ProjectSettings, Provisioned, SocialProvider, Template, seal};
use crate::config::AuthConfig;
use crate::error::{AuthError, Result};
use crate::store::is_unique_violation;
use crate::time::now;

const TABLE: &str = "auth_project_settings";

const SCHEMA: &str = r#"{ "tables": [
  { "name": "auth_project_settings",
    "comment": "easbase-auth: per-project auth settings (OAuth client secrets sealed)",
    "columns": [
      { "name": "project_id", "type": "varchar(40)", "primary": true,
        "references": { "table": "projects", "column": "id", "on_delete": "cascade" } },
      { "name": "settings", "type": "json", "required": true },
      { "name": "sealed_secrets", "type": "json", "required": true },
      { "name": "version", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true }
    ] }
] }"#;

/// The auth module's platform tables: the signing keys and the project settings.
pub(crate) fn platform_schema() -> Schema {
    let mut schema = crate::keys::platform_schema();
    let settings = Schema::from_json(SCHEMA)
        .unwrap_or_else(|e| unreachable!("the project-settings schema is fixed and valid: {e}"));
    schema.tables.extend(settings.tables);
    schema
}

fn table(db: &Db, schema: &Ident) -> TableRef {
    match db.dialect() {
        Dialect::Postgres => (Alias::new(schema.as_str()), Alias::new(TABLE)).into_table_ref(),
        _ => Alias::new(TABLE).into_table_ref(),
    }
}

/// A stored row.
struct Stored {
    settings: ProjectSettings,
    sealed: BTreeMap<SocialProvider, String>,
    version: i64,
}

fn corrupt(column: &str) -> AuthError {
    AuthError::Internal(format!("unexpected value in auth column `{column}`"))
}

async fn read(platform: &Platform, project: &ProjectId) -> Result<Option<Stored>> {
    let db = platform.db();
    let q = Query::select()
        .columns(["settings", "sealed_secrets", "version"].map(Alias::new))
        .from(table(db, &platform.config().platform_schema))
        .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
        .to_owned();
    let Some(row) = db.query(db.stmt(&q)).await?.into_iter().next() else { return Ok(None) };
    let json = |c: &str| row.text(c).map_err(|_| corrupt(c));
    Ok(Some(Stored {
        settings: serde_json::from_str(&json("settings")?).map_err(|_| corrupt("settings"))?,
        sealed: serde_json::from_str(&json("sealed_secrets")?).map_err(|_| corrupt("sealed_secrets"))?,
        version: row.int("version").map_err(|_| corrupt("version"))?,
    }))
}

/// Writes `next` if the row is still at `expected` (`None`: no row yet). `Ok(false)`
/// when another writer came first.
async fn write(
    platform: &Platform,
    project: &ProjectId,
    expected: Option<i64>,
    next: &ProjectSettings,
    sealed: &BTreeMap<SocialProvider, String>,
) -> Result<bool> {
    let db = platform.db();
    let tbl = table(db, &platform.config().platform_schema);
    let settings =
        serde_json::to_string(next).map_err(|_| AuthError::Internal("cannot encode settings".into()))?;
    let sealed =
        serde_json::to_string(sealed).map_err(|_| AuthError::Internal("cannot encode secrets".into()))?;
    let now = now();
    let stmt = match expected {
        None => db.stmt(
            &Query::insert()
                .into_table(tbl)
                .columns(
                    ["project_id", "settings", "sealed_secrets", "version", "updated_at"].map(Alias::new),
                )
                .values_panic([
                    project.as_str().into(),
                    settings.into(),
                    sealed.into(),
                    1i64.into(),
                    now.into(),
                ])
                .to_owned(),
        ),
        Some(version) => db.stmt(
            &Query::update()
                .table(tbl)
                .values([
                    (Alias::new("settings"), settings.into()),
                    (Alias::new("sealed_secrets"), sealed.into()),
                    (Alias::new("version"), (version + 1).into()),
                    (Alias::new("updated_at"), now.into()),
                ])
                .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
                .and_where(Expr::col(Alias::new("version")).eq(version))
                .to_owned(),
        ),
    };
    match db.transaction(&Scope::default(), vec![stmt]).await {
        Ok(results) => Ok(results.first().is_some_and(|r| r.affected == 1)),
        Err(e) => {
            let e = AuthError::from(e);
            if expected.is_none() && is_unique_violation(&e) { Ok(false) } else { Err(e) }
        }
    }
}

/// The project's settings (all `None` when it has none), client secrets left out.
///
/// # Errors
/// [`AuthError::Core`] when the project is unknown or the database fails.
pub(crate) async fn read_settings(platform: &Platform, project: &ProjectId) -> Result<ProjectSettings> {
    platform.project(project).await?;
    Ok(read(platform, project).await?.map(|s| s.settings).unwrap_or_default())
}

/// The sealed secrets of `next`: new ones sealed, `None` keeping the stored one,
/// providers no longer present dropped.
fn seal_secrets(
    key: &[u8],
    next: &mut ProjectSettings,
    stored: &BTreeMap<SocialProvider, String>,
) -> Result<BTreeMap<SocialProvider, String>> {
    let mut sealed = BTreeMap::new();
    for (provider, p) in &mut next.providers {
        let value = match p.client_secret.take() {
            // An unchanged secret keeps its stored form (so nothing is rewritten).
            Some(secret) => match stored.get(provider) {
                Some(old) if seal::unseal(key, old).ok().as_deref() == Some(secret.as_str()) => old.clone(),
                _ => seal::seal(key, &secret),
            },
            None => stored.get(provider).cloned().ok_or_else(|| {
                AuthError::ValidationFailed(format!(
                    "providers.{}.client_secret is required for a new provider",
                    provider.as_str()
                ))
            })?,
        };
        sealed.insert(*provider, value);
    }
    Ok(sealed)
}

/// Reads, changes with `change`, and writes unless nothing changed; retried when another
/// writer came first.
async fn update(
    platform: &Platform,
    project: &ProjectId,
    change: impl Fn(&ProjectSettings) -> Result<ProjectSettings>,
) -> Result<Provisioned> {
    platform.project(project).await?;
    let key = platform.jwt_secret(project).await?;
    for _ in 0..8 {
        let stored = read(platform, project).await?;
        let (current, sealed_now, version) = match stored {
            Some(s) => (s.settings, s.sealed, Some(s.version)),
            None => (ProjectSettings::default(), BTreeMap::new(), None),
        };
        let mut next = change(&current)?;
        next.validate()?;
        let sealed = seal_secrets(key.as_bytes(), &mut next, &sealed_now)?;
        if version.is_some() && next == current && sealed == sealed_now {
            return Ok(Provisioned::Unchanged);
        }
        if write(platform, project, version, &next, &sealed).await? {
            return Ok(Provisioned::Applied);
        }
    }
    Err(AuthError::Internal("the project's auth settings kept changing concurrently".into()))
}

/// Replaces the project's settings (client secrets given as `None` are kept).
pub(crate) async fn write_settings(
    platform: &Platform,
    project: &ProjectId,
    settings: ProjectSettings,
) -> Result<Provisioned> {
    update(platform, project, |current| {
        let mut next = settings.clone();
        // What was provisioned stays recorded.
        next.templates.extend(current.templates.iter().cloned());
        Ok(next)
    })
    .await
}

/// Applies a template (see the module docs).
pub(crate) async fn provision(
    platform: &Platform,
    project: &ProjectId,
    template: &Template,
) -> Result<Provisioned> {
    update(platform, project, |current| current.with_template(template)).await
}

/// The effective settings of `project` over `base`.
pub(crate) async fn load_effective(
    platform: &Platform,
    project: &ProjectId,
    jwt_secret: &[u8],
    base: &AuthConfig,
) -> Result<Effective> {
    let Some(stored) = read(platform, project).await? else { return Ok(Effective::defaults(base)) };
    let mut secrets = BTreeMap::new();
    for (provider, sealed) in &stored.sealed {
        // An unreadable secret (the project's JWT secret changed) turns that provider off
        // rather than failing every request of the project; it is set again by a write.
        match seal::unseal(jwt_secret, sealed) {
            Ok(secret) => {
                secrets.insert(*provider, secret);
            }
            Err(_) => tracing::error!(
                project = %project.as_str(),
                provider = provider.as_str(),
                "a stored OAuth client secret cannot be unsealed; the provider is off until it is set again"
            ),
        }
    }
    Ok(Effective::build(&stored.settings, &secrets, base))
}
