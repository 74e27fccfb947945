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
//! ## Keys on a restart, and on other servers
//!
//! easbase-core shows a project's keys once, when it issues them, and stores only their
//! hashes. `serve` therefore writes the keys it was shown to a keys file,
//! `<state dir>/<project id>.keys.json` (created with mode 0600 on Unix), and reads them
//! back on the next start: nothing is rotated. The state dir is the folder of a SQLite
//! platform file (beside the database, whose `projects` table already holds the JWT
//! secret in plain text, so the file adds no new secret to protect), else `.easbase/`.
//!
//! A project that already exists gets its keys, in this order ([`KeyOptions`]):
//!
//! 1. [`KeyOptions::reissue`]: a new pair is issued by rotating the project's current
//!    keys; the old ones keep working for the grace period, so other servers and clients
//!    have time to move. The keys file is rewritten.
//! 2. [`KeyOptions::given`]: keys given by the operator (`EASBASE_PUBLISHABLE_KEY` and
//!    `EASBASE_SECRET_KEY`, or the flags) are verified against the platform (each must
//!    be a live key of its kind for this project) and used as they are; a wrong one is
//!    refused, named. Nothing is written.
//! 3. The keys file, when its keys still verify.
//!
//! Otherwise (another machine or state dir serving the same PostgreSQL platform, a lost
//! file, revoked keys) `serve` refuses with [`Error::Refused`], naming the three ways
//! out, instead of rotating keys every other server and client may be using. Keys are
//! looked at before the schema is migrated, so a refused start changes nothing; a
//! reissue happens after a successful migration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use easbase_core::context::ProjectId;
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
    /// Where its keys came from.
    pub keys_from: KeysFrom,
}

/// Where the keys of a [`Provisioned`] project came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeysFrom {
    /// The project was created now, with new keys (saved to the keys file).
    Created,
    /// The keys file.
    File,
    /// The operator gave them ([`KeyOptions::given`]), and they verified.
    Given,
    /// A new pair was issued by rotation ([`KeyOptions::reissue`]).
    Reissued,
}

/// How a project that already exists gets its keys (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct KeyOptions {
    /// Keys the operator gave: verified against the platform, then used.
    pub given: Option<GivenKeys>,
    /// Issue a new pair by rotating the project's current keys, which keep working for
    /// this long (zero: they stop working at once).
    pub reissue: Option<Duration>,
}

/// A project's keys as the operator gave them (`Debug` does not show them).
#[derive(Clone, PartialEq, Eq)]
pub struct GivenKeys {
    /// `eb_pk_…`.
    pub publishable_key: String,
    /// `eb_sk_…`.
    pub secret_key: String,
}

impl std::fmt::Debug for GivenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GivenKeys").finish_non_exhaustive()
    }
}

/// The environment variable `easbase serve` reads a publishable key from.
pub const PUBLISHABLE_KEY_ENV: &str = "EASBASE_PUBLISHABLE_KEY";
/// The environment variable `easbase serve` reads a secret key from.
pub const SECRET_KEY_ENV: &str = "EASBASE_SECRET_KEY";

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
    /// How an existing project gets its keys.
    pub keys: KeyOptions,
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
    /// How an existing project gets its keys.
    pub keys: KeyOptions,
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
    let place = KeyPlace::new(wanted.state_dir.as_deref(), &wanted.keys)?;
    let created = platform.create_project(SERVE_OWNER, &wanted.name, create).await?;
    let mut found = None;
    if created.keys.is_none() {
        progress(&format!("reusing project `{}` ({})", created.project.name, created.project.id));
        found = existing_keys(platform, &created.project, place).await?;
        // Its tables may have changed since the last start.
        platform.refresh_schema(&created.project.id).await?;
    }
    with_keys(platform, created, place, found, Outcome::Reused, progress).await
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
    let place = KeyPlace::new(wanted.state_dir.as_deref(), &wanted.keys)?;
    let created = platform.create_project(SERVE_OWNER, &wanted.name, create).await?;
    let mut found = None;
    let outcome = if created.keys.is_some() {
        Outcome::Created
    } else {
        progress(&format!("reusing project `{}` ({})", created.project.name, created.project.id));
        // Keys first: a server that cannot serve the project must not migrate it.
        found = existing_keys(platform, &created.project, place).await?;
        let options = MigrateOptions { allow_destructive: wanted.allow_destructive, ..Default::default() };
        match migrate::migrate(platform, &created.project.id, &wanted.schema, &options, progress).await? {
            Migration::UpToDate => Outcome::Reused,
            Migration::Applied(report) => Outcome::Migrated(report),
            Migration::Planned(_) => unreachable!("not a dry run"),
        }
    };
    with_keys(platform, created, place, found, outcome, progress).await
}

/// Where a project's keys are kept and how an existing project gets them.
#[derive(Clone, Copy)]
struct KeyPlace<'a> {
    state_dir: Option<&'a Path>,
    options: &'a KeyOptions,
}

impl<'a> KeyPlace<'a> {
    fn new(state_dir: Option<&'a Path>, options: &'a KeyOptions) -> Result<KeyPlace<'a>> {
        if options.given.is_some() && options.reissue.is_some() {
            return Err(Error::Usage("keys are either given or reissued, not both".into()));
        }
        Ok(KeyPlace { state_dir, options })
    }

    /// The keys file of `id`, for messages.
    fn file(&self, id: &str) -> String {
        self.state_dir
            .map_or_else(|| "(none: no state dir)".to_owned(), |dir| keys_path(dir, id).display().to_string())
    }

    fn save(&self, pair: &KeyPair) -> Result<()> {
        match self.state_dir {
            Some(dir) => save_keys(dir, pair),
            None => Ok(()),
        }
    }
}

/// The keys of a project that existed, given or from the keys file, checked against the
/// platform; `None` when they are to be reissued (see the module docs). Refuses when
/// there are none: nothing is changed.
async fn existing_keys(
    platform: &Platform,
    project: &Project,
    place: KeyPlace<'_>,
) -> Result<Option<(KeyPair, KeysFrom)>> {
    let id = &project.id;
    if place.options.reissue.is_some() {
        return Ok(None);
    }
    if let Some(given) = &place.options.given {
        check_given(platform, project, given).await?;
        let pair = KeyPair {
            project_id: id.to_string(),
            publishable_key: given.publishable_key.clone(),
            secret_key: given.secret_key.clone(),
        };
        return Ok(Some((pair, KeysFrom::Given)));
    }
    let saved = match place.state_dir {
        Some(dir) => load_keys(dir, id.as_str())?,
        None => None,
    };
    match saved {
        Some(pair) if keys_work(platform, &pair).await? => Ok(Some((pair, KeysFrom::File))),
        stale => {
            let why = if stale.is_some() { "holds keys that no longer verify" } else { "is missing" };
            Err(Error::Refused(format!(
                "project `{name}` ({id}) exists but its keys are not at hand: the keys file {file} {why}. \
                 Keys are shown only once, so either give them ({PUBLISHABLE_KEY_ENV} and \
                 {SECRET_KEY_ENV}, or --publishable-key and --secret-key), copy the keys file from \
                 the server that created the project into the state dir (--state-dir), or issue a \
                 new pair with --reissue-keys [--grace SECONDS] (the current keys keep working for \
                 the grace period, then every server and client needs the new ones)",
                name = project.name,
                file = place.file(id.as_str()),
            )))
        }
    }
}

/// The keys of a project just created (saved to the keys file) or found again
/// ([`existing_keys`], or reissued now when that gave `None`).
async fn with_keys(
    platform: &Platform,
    created: CreatedProject,
    place: KeyPlace<'_>,
    found: Option<(KeyPair, KeysFrom)>,
    outcome: Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<Provisioned> {
    let id = created.project.id.clone();
    let options = place.options;
    let jwt_secret = platform.jwt_secret(&id).await?;
    if let Some(keys) = created.keys {
        progress(&format!("created project `{}` ({id})", created.project.name));
        let pair = KeyPair {
            project_id: id.to_string(),
            publishable_key: keys.publishable.secret,
            secret_key: keys.secret.secret,
        };
        place.save(&pair)?;
        if let Some(given) = &options.given {
            // A new project has new keys: the given ones cannot be its keys.
            check_given(platform, &created.project, given).await.map_err(|e| {
                Error::Refused(format!(
                    "{e} (the project was just created, with new keys: see {})",
                    place.file(id.as_str())
                ))
            })?;
        }
        if options.reissue.is_some() {
            progress("the project was just created: its keys are new, nothing to reissue");
        }
        return Ok(Provisioned {
            project: created.project,
            keys: pair,
            jwt_secret,
            outcome: Outcome::Created,
            keys_from: KeysFrom::Created,
        });
    }
    let project = &created.project;
    let (keys, keys_from) = match (found, options.reissue) {
        (Some(found), _) => found,
        (None, None) => unreachable!("existing_keys gives keys unless they are reissued"),
        (None, Some(grace)) => {
            let pair = reissue_keys(platform, project, grace).await?;
            place.save(&pair)?;
            let old = match grace.as_secs() {
                0 => "the old keys stop working now".to_owned(),
                s => format!("the old keys keep working for {s} s"),
            };
            progress(&format!("issued a new key pair for project `{}` by rotation: {old}", project.name));
            (pair, KeysFrom::Reissued)
        }
    };
    let project = platform.project(&id).await?;
    Ok(Provisioned { project, keys, jwt_secret, outcome, keys_from })
}

/// Whether `key` is a live key of `project` (`Ok(false)`: unknown, revoked, expired or
/// another project's); other failures (a paused project, the database) are errors.
async fn key_works(platform: &Platform, project: &ProjectId, key: &str) -> Result<bool> {
    match platform.resolve(Some(key), None, None).await {
        Ok(ctx) => Ok(ctx.project() == project),
        Err(easbase_core::Error::InvalidApiKey) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether both keys of `pair` still name its project.
async fn keys_work(platform: &Platform, pair: &KeyPair) -> Result<bool> {
    let Ok(project) = ProjectId::new(pair.project_id.clone()) else { return Ok(false) };
    for key in [&pair.publishable_key, &pair.secret_key] {
        if !key_works(platform, &project, key).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Refuses a given key that is not a live key of its kind for `project`, naming it.
async fn check_given(platform: &Platform, project: &Project, given: &GivenKeys) -> Result<()> {
    let wanted = [
        (KeyKind::Publishable, &given.publishable_key, "--publishable-key", PUBLISHABLE_KEY_ENV),
        (KeyKind::Secret, &given.secret_key, "--secret-key", SECRET_KEY_ENV),
    ];
    for (kind, key, flag, env) in wanted {
        let which = format!("the {} key ({flag} or {env})", kind_name(kind));
        match easbase_core::keys::parse(key) {
            Err(_) => return Err(Error::Refused(format!("{which} is not an EasBase API key"))),
            Ok(parsed) if parsed.kind() != kind => {
                return Err(Error::Refused(format!("{which} is a {} key", kind_name(parsed.kind()))));
            }
            Ok(_) => {}
        }
        if !key_works(platform, &project.id, key).await? {
            return Err(Error::Refused(format!(
                "{which} is not a key of project `{}` ({}): unknown, revoked, expired or another \
                 project's",
                project.name, project.id
            )));
        }
    }
    Ok(())
}

fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Publishable => "publishable",
        KeyKind::Secret => "secret",
    }
}

/// Rotates the current keys of `project` (the live ones not already on their way out),
/// the old ones working for `grace`: one new key per kind.
async fn reissue_keys(platform: &Platform, project: &Project, grace: Duration) -> Result<KeyPair> {
    let mut publishable = None;
    let mut secret = None;
    for key in platform.keys(&project.id).await? {
        // Revoked, expired or in a previous rotation's grace period: left alone.
        if key.revoked || key.expires_at.is_some() {
            continue;
        }
        let new = platform.rotate_key(&project.id, &key.id, grace).await?;
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
            "project {} has no current publishable and secret key to rotate; create a new project",
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
