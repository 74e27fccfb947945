//! What a project is: [`Project`], its [`ProjectStatus`] and [`Isolation`], and the
//! options and results of creating one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::context::ProjectId;
use crate::keys::GeneratedKey;

/// Where a project's tables live.
///
/// | | PostgreSQL | MySQL / MariaDB | SQLite |
/// |---|---|---|---|
/// | `Shared` | schema `p_<id>` in the platform database | database `p_<id>` on the platform's server | its own file (or in-memory database) |
/// | `Dedicated` | database `p_<id>` of its own, tables in its schema `p_<id>` | database `p_<id>` on the server of its `database_url` (else the platform's) | the same as `Shared` |
///
/// On both PostgreSQL modes requests run as the project's three roles `p_<id>_anon`,
/// `p_<id>_authenticated`, `p_<id>_service` (roles are cluster-wide: the same names in
/// both modes). A dedicated database keeps its tables in a schema `p_<id>` rather than
/// `public`, so the DDL, the grants and the qualified names the REST layer builds are the
/// same in both modes, and a project moves between them with one schema dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// PostgreSQL: its own schema and roles in the platform database. SQLite: its own
    /// database file beside the platform's (in memory when the platform is in memory).
    #[default]
    Shared,
    /// PostgreSQL: a database of its own, created from the platform's connection on the
    /// platform's server, or on another server named by [`CreateProject::database_url`]
    /// (scale-out). It is reached through a pool of its own, opened on demand; the
    /// platform keeps at most
    /// [`max_open_databases`](crate::project::PlatformConfig::max_open_databases) such
    /// pools open. SQLite: a file of its own, as for `Shared` (every SQLite project
    /// already is its own database).
    Dedicated,
}

impl Isolation {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Shared => "shared",
            Isolation::Dedicated => "dedicated",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Isolation> {
        match s {
            "shared" => Some(Isolation::Shared),
            "dedicated" => Some(Isolation::Dedicated),
            _ => None,
        }
    }
}

/// Where a project is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum ProjectStatus {
    /// Being created: its keys do not work yet.
    Provisioning,
    /// Serving requests.
    Ready,
    /// Provisioning failed (the reason says why); nothing of it is left in the database,
    /// and creating it again with the same idempotency key resumes.
    Failed(String),
    /// Its keys are refused until it is resumed.
    Paused,
}

impl ProjectStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProjectStatus::Provisioning => "provisioning",
            ProjectStatus::Ready => "ready",
            ProjectStatus::Failed(_) => "failed",
            ProjectStatus::Paused => "paused",
        }
    }

    pub(crate) fn parse(s: &str, reason: Option<String>) -> Option<ProjectStatus> {
        Some(match s {
            "provisioning" => ProjectStatus::Provisioning,
            "ready" => ProjectStatus::Ready,
            "failed" => ProjectStatus::Failed(reason.unwrap_or_default()),
            "paused" => ProjectStatus::Paused,
            _ => return None,
        })
    }
}

impl fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectStatus::Failed(reason) => write!(f, "failed: {reason}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A project (a tenant: one "user backend").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    /// Its id (32 lower-case hex digits).
    pub id: ProjectId,
    /// A URL-friendly name, unique on the platform.
    pub slug: String,
    /// Its display name.
    pub name: String,
    /// Who owns it (the host's user id).
    pub owner: String,
    /// Where it is in its life.
    pub status: ProjectStatus,
    /// Where its tables live.
    pub isolation: Isolation,
    /// Its plan's name.
    pub plan: String,
    /// Its API URL (from the platform's base URL).
    pub api_url: String,
    /// The version of its schema last applied, if any.
    pub schema_version: Option<String>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
}

/// Options of [`Platform::create_project`](crate::project::Platform::create_project).
///
/// Its `Debug` output leaves [`CreateProject::database_url`] out (it may hold a password).
#[derive(Clone, Default)]
pub struct CreateProject {
    /// Where its tables live.
    pub isolation: Isolation,
    /// A retry with the same key (and owner) returns the first project instead of making
    /// a second one, and resumes a failed provisioning.
    pub idempotency_key: Option<String>,
    /// The plan (default: the platform's default plan).
    pub plan: Option<String>,
    /// The project's first schema (applied as version `1`).
    pub schema: Option<easbase_schema::Schema>,
    /// [`Isolation::Dedicated`] on PostgreSQL or MySQL only: a connection string of
    /// **another server** where the project's database is created, for scale-out (on
    /// PostgreSQL a URL or key-value pairs; on MySQL a `mysql://` URL). The connection it
    /// names must be allowed to create databases (and on PostgreSQL roles: `CREATEDB`,
    /// `CREATEROLE`); its database name is only used for administration — the project's
    /// pool connects to `p_<id>` with the same settings. `None`: the platform's own
    /// server.
    ///
    /// **It is stored as given, in plain text**, in the platform table `projects`
    /// (`database_url`), because the platform must connect with it again after a restart:
    /// it may contain a password, so protect the platform schema as you would that
    /// password (or give a URL without one and use a `.pgpass`-style mechanism or trust
    /// authentication between the servers). It is never logged, never part of a
    /// [`Project`] nor of an error message.
    pub database_url: Option<String>,
    /// PostgreSQL: serve an **existing** schema of the platform database, as PostgREST
    /// does, rather than a schema of the project's own. See [`AdoptSchema`].
    pub adopt: Option<AdoptSchema>,
}

/// An existing PostgreSQL schema a project serves ([`CreateProject::adopt`]): its tables,
/// with their own grants and row-level security, as PostgREST serves them.
///
/// - Requests run as the three roles named here (`SET LOCAL ROLE`, the claims in
///   `request.jwt.claims`, as PostgREST does), so the schema's policies apply as written
///   (`current_setting('request.jwt.claims', true)::json->>'sub'`, `auth.uid()` where an
///   `auth` schema defines it).
/// - Provisioning creates a role that is missing (`NOLOGIN NOINHERIT`; the service role
///   with `BYPASSRLS` when the platform's login may grant it) and grants it
///   `SELECT, INSERT, UPDATE, DELETE` on the schema's tables, `USAGE, SELECT` on its
///   sequences and `EXECUTE` on its functions, as Supabase's setup does. A role that
///   exists keeps its privileges as they are (only `USAGE` on the schema is granted), so
///   an existing PostgREST setup is served with exactly its grants. The platform's login
///   is made a member of the three roles (to `SET ROLE`); it never takes ownership of
///   the tables.
/// - The project's schema description is read from the database
///   ([`easbase_schema::introspect::introspect_postgres`]) when its handle opens, and
///   again after [`Platform::refresh_schema`](crate::project::Platform::refresh_schema)
///   (every process hears of it through the `SchemaApplied` event).
///   [`Platform::apply_schema`](crate::project::Platform::apply_schema) is refused: the
///   schema is changed in the database. Modules' tables (auth's) are created in the
///   schema beside the existing ones, and stay there when the project is deleted.
/// - Deleting the project drops neither the schema nor its tables nor the roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptSchema {
    /// The schema's name.
    pub schema: String,
    /// The role anonymous requests (the publishable key) run as (default `anon`).
    pub anon_role: String,
    /// The role requests with a user's token run as (default `authenticated`).
    pub authenticated_role: String,
    /// The role requests with the secret key run as (default `service_role`).
    pub service_role: String,
}

impl AdoptSchema {
    /// `schema`, served with Supabase's role names `anon`, `authenticated` and
    /// `service_role`.
    pub fn new(schema: impl Into<String>) -> AdoptSchema {
        AdoptSchema {
            schema: schema.into(),
            anon_role: "anon".into(),
            authenticated_role: "authenticated".into(),
            service_role: "service_role".into(),
        }
    }
}

impl fmt::Debug for CreateProject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateProject")
            .field("isolation", &self.isolation)
            .field("idempotency_key", &self.idempotency_key)
            .field("plan", &self.plan)
            .field("schema", &self.schema)
            .field("database_url", &self.database_url.as_ref().map(|_| "<redacted>"))
            .field("adopt", &self.adopt)
            .finish()
    }
}

/// A new project and its keys.
#[derive(Debug, Clone)]
pub struct CreatedProject {
    /// The project.
    pub project: Project,
    /// Its keys, shown once. `None` when an idempotent retry found the project already
    /// made (its keys cannot be shown again: only their hashes are stored).
    pub keys: Option<ProjectKeys>,
}

/// A project's two keys.
#[derive(Debug, Clone)]
pub struct ProjectKeys {
    /// The publishable key (`eb_pk_…`, role `anon`): safe in a browser.
    pub publishable: GeneratedKey,
    /// The secret key (`eb_sk_…`, role `service`): server-side only.
    pub secret: GeneratedKey,
}

/// A plan: the limits of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Its name.
    pub name: String,
    /// Requests per minute (`None`: unlimited).
    pub requests_per_minute: Option<u64>,
    /// Rows across the project's tables (`None`: unlimited).
    pub max_rows: Option<u64>,
    /// Stored bytes (`None`: unlimited).
    pub storage_bytes: Option<u64>,
}

impl Plan {
    /// A plan without limits.
    pub fn unlimited(name: &str) -> Plan {
        Plan { name: name.to_owned(), requests_per_minute: None, max_rows: None, storage_bytes: None }
    }
}
