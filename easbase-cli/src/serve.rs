//! What `easbase serve` does before it listens: find or create the project of a schema,
//! bring its tables up to date, and have its keys at hand.
//!
//! ## One project per name, reused across restarts
//!
//! The project is created with the idempotency key `serve:<name>` (owner
//! [`SERVE_OWNER`]), so a restart finds it instead of creating another. On a restart
//! the schema file is compared with the project's current schema through the migration
//! planner ([`crate::migrate`]): no difference, nothing is done; otherwise the plan is
//! applied as a new version, and destructive steps (dropping tables or columns, narrowing
//! types) are refused unless `allow_destructive` is set.
//!
//! ## An existing PostgreSQL schema (`--introspect`)
//!
//! [`provision_adopted`] serves the tables of an existing schema instead, as PostgREST
//! does: the project is created with [`CreateProject::adopt`] (idempotency key
//! `serve-introspect:<name>`), requests run as the schema's roles under its own
//! row-level security, and its description is read from the database (again on each
//! start). Nothing is migrated; the keys are kept as below.
//!
//! ## Keys on a restart
//!
//! easbase-core shows a project's keys once, when it issues them, and stores only their
//! hashes. `serve` therefore writes the keys it was shown to a keys file,
//! `<state dir>/<project id>.keys.json` (created with mode 0600 on Unix), and reads them
//! back on the next start: nothing is rotated. The state dir is the folder of a SQLite
//! platform file (beside the database, whose `projects` table already holds the JWT
//! secret in plain text, so the file adds no new secret to protect), else `.easbase/`.
//! When the keys file is missing or its keys no longer verify (another machine, a
//! deleted file, revoked keys), `serve` issues a fresh pair by rotating the project's
//! live keys with no grace period (the old ones stop working at once) and says so on
//! stderr.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use easbase_core::keys::KeyKind;
use easbase_core::project::{AdoptSchema, CreateProject, CreatedProject, Platform, Project};
use easbase_core::schema::Schema;
use easbase_core::schema::migrate::ApplyReport;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::migrate::{self, MigrateOptions, Migration};

/// The owner of the projects `easbase serve` creates.
pub const SERVE_OWNER: &str = "easbase-serve";

/// A project's two keys, in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPair {
    /// The project the keys belong to.
    pub project_id: String,
    /// `eb_pk_…`.
    pub publishable_key: String,
    /// `eb_sk_…`.
    pub secret_key: String,
}

/// How the project was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It was created now.
    Created,
    /// It existed; its schema was already up to date.
    Reused,
    /// It existed and its schema was migrated.
    Migrated(Box<ApplyReport>),
}

/// What [`provision`] gives: the project, its keys and how it was found.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The project.
    pub project: Project,
    /// Its keys.
    pub keys: KeyPair,
    /// Its JWT secret.
    pub jwt_secret: String,
    /// Created, reused or migrated.
    pub outcome: Outcome,
    /// Keys were issued again (the keys file was missing or stale).
    pub reissued_keys: bool,
}

/// What to serve.
#[derive(Debug, Clone)]
pub struct ServeProject {
    /// The project's name (and idempotency key): one project per name.
    pub name: String,
    /// Its schema.
    pub schema: Schema,
    /// Apply destructive migration steps.
    pub allow_destructive: bool,
    /// Where the keys file lives (see the module docs); `None`: nowhere (an in-memory
    /// platform, whose projects do not outlive the process).
    pub state_dir: Option<PathBuf>,
}

/// What to serve with `--introspect`: an existing PostgreSQL schema.
#[derive(Debug, Clone)]
pub struct AdoptProject {
    /// The project's name (and idempotency key): one project per name.
    pub name: String,
    /// The schema and the roles requests run as.
    pub adopt: AdoptSchema,
    /// Where the keys file lives (see the module docs).
    pub state_dir: Option<PathBuf>,
}

/// Finds or creates the project serving an existing PostgreSQL schema (see the module
/// docs), reads its description again when it existed, and returns its keys.
///
/// # Errors
/// [`Error::Core`] (a platform that is not PostgreSQL, a schema that does not exist, an
/// invalid name); [`Error::Io`] when the keys file cannot be written.
pub async fn provision_adopted(
    platform: &Platform,
    wanted: &AdoptProject,
    progress: &mut dyn FnMut(&str),
) -> Result<Provisioned> {
    let create = CreateProject {
        adopt: Some(wanted.adopt.clone()),
        idempotency_key: Some(format!("serve-introspect:{}", wanted.name)),
        ..Default::default()
    };
    let created = platform.create_project(SERVE_OWNER, &wanted.name, create).await?;
    if created.keys.is_none() {
        progress(&format!("reusing project `{}` ({})", created.project.name, created.project.id));
        // Its tables may have changed since the last start.
        platform.refresh_schema(&created.project.id).await?;
    }
    with_keys(platform, created, wanted.state_dir.as_deref(), Outcome::Reused, progress).await
}

/// Finds or creates the project of `wanted`, migrates it to the schema, and returns its
/// keys (see the module docs). `progress` gets one line per long step.
///
/// # Errors
/// [`Error::Schema`] for an invalid schema or a migration that fails or is destructive
/// without opt-in ([`Error::Refused`] says which steps); [`Error::Core`]; [`Error::Io`]
/// when the keys file cannot be written.
pub async fn provision(
    platform: &Platform,
    wanted: &ServeProject,
    progress: &mut dyn FnMut(&str),
) -> Result<Provisioned> {
    migrate::check(&wanted.schema, platform.db().dialect())?;
    let create = CreateProject {
        schema: Some(wanted.schema.clone()),
        idempotency_key: Some(format!("serve:{}", wanted.name)),
        ..Default::default()
    };
    let created = platform.create_project(SERVE_OWNER, &wanted.name, create).await?;
    let outcome = if created.keys.is_some() {
        Outcome::Created
    } else {
        progress(&format!("reusing project `{}` ({})", created.project.name, created.project.id));
        let options = MigrateOptions { allow_destructive: wanted.allow_destructive, ..Default::default() };
        match migrate::migrate(platform, &created.project.id, &wanted.schema, &options, progress).await? {
            Migration::UpToDate => Outcome::Reused,
            Migration::Applied(report) => Outcome::Migrated(report),
            Migration::Planned(_) => unreachable!("not a dry run"),
        }
    };
    with_keys(platform, created, wanted.state_dir.as_deref(), outcome, progress).await
}

/// The keys of a project just created (saved to the keys file) or found again (read
/// from it, or issued anew when missing or stale).
async fn with_keys(
    platform: &Platform,
    created: CreatedProject,
    state_dir: Option<&Path>,
    outcome: Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<Provisioned> {
    let id = created.project.id.clone();
    let jwt_secret = platform.jwt_secret(&id).await?;
    if let Some(keys) = created.keys {
        progress(&format!("created project `{}` ({id})", created.project.name));
        let pair = KeyPair {
            project_id: id.to_string(),
            publishable_key: keys.publishable.secret,
            secret_key: keys.secret.secret,
        };
        if let Some(dir) = state_dir {
            save_keys(dir, &pair)?;
        }
        return Ok(Provisioned {
            project: created.project,
            keys: pair,
            jwt_secret,
            outcome: Outcome::Created,
            reissued_keys: false,
        });
    }
    let saved = match state_dir {
        Some(dir) => load_keys(dir, id.as_str())?,
        None => None,
    };
    let (keys, reissued_keys) = match saved {
        Some(pair) if keys_work(platform, &pair).await => (pair, false),
        stale => {
            let why = if stale.is_some() { "no longer valid" } else { "missing" };
            let file = state_dir.map_or_else(
                || "(none: no state dir)".to_owned(),
                |dir| keys_path(dir, id.as_str()).display().to_string(),
            );
            progress(&format!(
                "the keys file {file} is {why}: issuing a new key pair (the old keys stop working now)"
            ));
            let pair = reissue_keys(platform, &created.project).await?;
            if let Some(dir) = state_dir {
                save_keys(dir, &pair)?;
            }
            (pair, true)
        }
    };
    let project = platform.project(&id).await?;
    Ok(Provisioned { project, keys, jwt_secret, outcome, reissued_keys })
}

/// Whether both keys still name `pair`'s project.
async fn keys_work(platform: &Platform, pair: &KeyPair) -> bool {
    for key in [&pair.publishable_key, &pair.secret_key] {
        match platform.resolve(Some(key), None, None).await {
            Ok(ctx) if ctx.project().as_str() == pair.project_id => {}
            _ => return false,
        }
    }
    true
}

/// Rotates every live key of `project` with no grace period: one new key per kind.
async fn reissue_keys(platform: &Platform, project: &Project) -> Result<KeyPair> {
    let now = SystemTime::now();
    let mut publishable = None;
    let mut secret = None;
    for key in platform.keys(&project.id).await? {
        if key.revoked || key.expires_at.is_some_and(|t| t <= now) {
            continue;
        }
        let new = platform.rotate_key(&project.id, &key.id, Duration::ZERO).await?;
        match new.kind {
            KeyKind::Publishable => publishable = Some(new.secret),
            KeyKind::Secret => secret = Some(new.secret),
        }
    }
    match (publishable, secret) {
        (Some(publishable_key), Some(secret_key)) => {
            Ok(KeyPair { project_id: project.id.to_string(), publishable_key, secret_key })
        }
        _ => Err(Error::Refused(format!(
            "project {} has no live publishable and secret key to rotate; create a new project",
            project.id
        ))),
    }
}

/// The keys file of a project.
pub fn keys_path(state_dir: &Path, project_id: &str) -> PathBuf {
    state_dir.join(format!("{project_id}.keys.json"))
}

/// Reads a project's keys file (`None` when there is none).
///
/// # Errors
/// [`Error::Io`] when it exists but cannot be read or parsed.
pub fn load_keys(state_dir: &Path, project_id: &str) -> Result<Option<KeyPair>> {
    let path = keys_path(state_dir, project_id);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: format!("not a keys file: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Writes a project's keys file, readable by its owner only (Unix): to a temporary file
/// first, then renamed over the old one, so a crash never leaves half a file.
///
/// # Errors
/// [`Error::Io`].
pub fn save_keys(state_dir: &Path, pair: &KeyPair) -> Result<()> {
    std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
    let path = keys_path(state_dir, &pair.project_id);
    let partial = path.with_extension("json.partial");
    let text = serde_json::to_string_pretty(pair).map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).map_err(|e| Error::io(&partial, e))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))
}
