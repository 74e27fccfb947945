//! Projects: the tenants of a platform. A [`Platform`] is built from the host's database
//! handle; [`Platform::create_project`] provisions a project (its tables, roles and keys)
//! and returns its API URL and keys, shown once. The status goes `provisioning` →
//! `ready` (or `failed`, with nothing half-made left behind).
//!
//! ```
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::project::{CreateProject, Platform, PlatformConfig, ProjectStatus};
//! use easbase_core::schema::Schema;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> easbase_core::Result<()> {
//! let db = Db::open_sqlite(SqliteConfig::in_memory())?;
//! let platform = Platform::open(db, PlatformConfig::new("http://localhost:8080"), Vec::new()).await?;
//!
//! let schema = Schema::from_json(r#"{ "tables": [ { "name": "products", "columns": [
//!     { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
//!     { "name": "name", "type": "text", "required": true },
//!     { "name": "price", "type": "decimal" } ] } ] }"#)?;
//! let created = platform
//!     .create_project("user-1", "My E-commerce Backend", CreateProject { schema: Some(schema), ..Default::default() })
//!     .await?;
//! assert_eq!(created.project.status, ProjectStatus::Ready);
//! println!("API URL: {}", created.project.api_url);
//! let keys = created.keys.expect("a new project shows its keys once");
//! assert!(keys.publishable.secret.starts_with("eb_pk_"));
//! assert!(keys.secret.secret.starts_with("eb_sk_"));
//!
//! // A request with the publishable key acts as `anon` in that project.
//! let ctx = platform.resolve(Some(&keys.publishable.secret), None, None).await?;
//! assert_eq!(ctx.project(), &created.project.id);
//! # Ok(())
//! # }
//! ```
//!
//! # Named schemas
//!
//! Besides its own schema (the profile [`DEFAULT_PROFILE`], `public`), a project may
//! expose other schemas by name, as PostgREST exposes several database schemas chosen
//! with `Accept-Profile` / `Content-Profile`: [`Platform::apply_schema_named`],
//! [`Platform::named_schemas`], [`Platform::drop_schema_named`] and
//! [`Platform::project_db_named`]. A named schema `analytics` is the PostgreSQL schema
//! `p_<id>__analytics` next to the project's (same database, roles, grants and forced
//! RLS), the MySQL database `p_<id>__analytics`, or the SQLite file
//! `<id>__analytics.sqlite` beside the project's (in memory for in-memory projects). Each
//! keeps its own migration history; the platform table `project_schemas` lists them.
//! Applying or dropping one is announced like a schema applied, so other processes reload
//! the project's profiles ([`ProjectDb::profiles`]). Deleting the project drops them. They
//! hold only the tables given: modules' tables (auth's) stay in `public`.

mod events;
mod executor;
mod model;
mod named;
#[cfg(feature = "mysql")]
mod poll;
mod provision;
mod router;
mod store;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use easbase_schema::ddl::{DdlOptions, RoleNames};
use easbase_schema::migrate::{self, ApplyOptions, ApplyReport};
use easbase_schema::{Dialect, Ident, Schema, ValidSchema};
use rand::RngCore;

use crate::context::jwt::{JwtConfig, JwtKey, JwtVerifier};
use crate::context::{ContextResolver, KeyLookup, ProjectId, ProjectState, RequestContext};
use crate::db::{Db, Scope};
use crate::error::{Error, Result};
use crate::keys::{self, GeneratedKey, KeyCache, KeyCacheConfig, KeyKind, StoredKey};
use crate::module::Module;
use crate::quota::RateLimiter;

pub use events::{EventKind, PlatformEvent};
pub use model::{
    AdoptSchema, CreateProject, CreatedProject, Isolation, Plan, Project, ProjectKeys, ProjectStatus,
};
pub use named::{DEFAULT_PROFILE, NamedSchema};
use router::{Lookup, PoolGuard, Router};
use store::{ProjectRow, Store};

/// How a platform runs.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// The base URL projects' API URLs are made from.
    pub base_url: String,
    /// The API URL of a project: `{base_url}`, `{slug}` and `{id}` are replaced
    /// (default `{base_url}/{slug}`).
    pub api_url_template: String,
    /// PostgreSQL: the schema holding the platform tables (default `easbase`).
    pub platform_schema: Ident,
    /// SQLite: the folder of project database files; `None` keeps projects in memory.
    pub data_dir: Option<PathBuf>,
    /// The plans; the first is the default.
    pub plans: Vec<Plan>,
    /// How many projects one owner may have (`None`: unlimited).
    pub max_projects_per_owner: Option<u64>,
    /// The verified-key cache of the request path.
    pub key_cache: KeyCacheConfig,
    /// How many project handles stay open (default 64), least recently used closed
    /// first: SQLite database files, MySQL projects' pools, and on PostgreSQL dedicated
    /// projects' pools (shared projects' handles only cache their schema). In-memory SQLite databases are never
    /// closed. See [`Platform::open_pools`].
    pub max_open_databases: usize,
    /// PostgreSQL: how the platform's server is reached. Dedicated projects' pools use it
    /// with the database name replaced, and the cross-process listener opens its own
    /// connection with it. `None` (the default): the settings of the platform's
    /// [`Db`] when it was built by [`Db::connect_postgres`]; a `Db` made from a host's
    /// pool ([`Db::from_pg_pool`]) has none, so without this its platform refuses
    /// dedicated projects and does not listen. Its URL is never logged.
    #[cfg(feature = "postgres")]
    pub postgres: Option<crate::db::PgConfig>,
    /// Connections in each project pool of its own (default 4): dedicated projects on
    /// PostgreSQL, every project on MySQL.
    pub dedicated_pool_size: usize,
    /// PostgreSQL: start the cross-process invalidation listener in [`Platform::open`]
    /// (default `true`; see [`Platform::listen`]). Ignored on SQLite.
    pub listen: bool,
    /// MySQL: how often each process reads the changes other processes made (default
    /// 1 s; at least 10 ms). See [`Platform::listen`]. Ignored elsewhere.
    pub event_poll_interval: Duration,
    /// Counts each project's requests against its plan's
    /// [`Plan::requests_per_minute`] in [`Platform::resolve`] (see [`Platform::admit`]).
    /// `None` (the default): when the platform holds
    /// [`QuotaModule`](crate::quota::QuotaModule)'s table, a limiter on those counters
    /// (shared by every process on the platform database) with the default
    /// [`Batching`](crate::quota::Batching); otherwise an exact limiter in this process's
    /// memory. Give one over [`RedisCounters`](crate::quota::CounterStore) or exact
    /// database counters to choose otherwise. When no plan limits requests, nothing is
    /// counted.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// How long a process's claim on provisioning a project lasts (default 5 minutes):
    /// a concurrent [`CreateProject::idempotency_key`] retry in any process on the
    /// platform database finds the claim and returns the project as `provisioning`
    /// instead of provisioning it too; once the claim has expired (its process died), a
    /// retry resumes the provisioning.
    pub provisioning_lease: Duration,
}

impl PlatformConfig {
    /// Defaults with a base URL.
    pub fn new(base_url: impl Into<String>) -> PlatformConfig {
        PlatformConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_url_template: "{base_url}/{slug}".into(),
            platform_schema: Ident::new("easbase").unwrap_or_else(|_| unreachable!("valid")),
            data_dir: None,
            plans: vec![Plan::unlimited("free")],
            max_projects_per_owner: None,
            key_cache: KeyCacheConfig::default(),
            max_open_databases: 64,
            #[cfg(feature = "postgres")]
            postgres: None,
            dedicated_pool_size: 4,
            listen: true,
            event_poll_interval: Duration::from_secs(1),
            rate_limiter: None,
            provisioning_lease: Duration::from_secs(300),
        }
    }
}

/// The platform: projects and their keys over one platform database.
/// Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").field("dialect", &self.inner.db.dialect()).finish_non_exhaustive()
    }
}

struct Inner {
    db: Db,
    store: Store,
    /// Platform tables holding rows keyed by a project's id (deleted with it).
    project_tables: Vec<String>,
    /// Whether the platform holds [`crate::quota::QuotaModule`]'s counters.
    quota_counters: bool,
    /// Projects this process is provisioning now (a concurrent retry must not too).
    provisioning: Mutex<HashSet<String>>,
    /// The request limiter; `None` when no plan limits requests.
    limiter: Option<Arc<RateLimiter>>,
    /// Projects' plans, for the limiter (by project id; invalidated with its keys).
    plans: KeyCache<Plan>,
    /// Usage sinks told when a project is deleted ([`Platform::attach_usage_sink`]).
    usage_sinks: Mutex<Vec<std::sync::Weak<dyn crate::usage::UsageSink>>>,
    /// The sinks the HTTP layers record requests to ([`Platform::set_usage_sink`],
    /// [`Platform::set_log_sink`]).
    metering: std::sync::RwLock<Metering>,
    /// Whether `metering` holds a sink: written under its write lock, read without it
    /// ([`Platform::is_metering`], asked on every request).
    metering_on: AtomicBool,
    /// Whether the platform holds [`crate::usage::UsageModule`]'s and
    /// [`crate::logs::LogsModule`]'s tables.
    metering_tables: (bool, bool),
    config: PlatformConfig,
    modules: Vec<Arc<dyn Module>>,
    resolver: ContextResolver,
    router: Router,
    events: Events,
    /// The platform server's connection settings (dedicated pools, the listener).
    #[cfg(feature = "postgres")]
    pg_server: Option<tokio_postgres::Config>,
}

/// The sinks requests are recorded to.
#[derive(Default)]
struct Metering {
    usage: Option<Arc<dyn crate::usage::UsageSink>>,
    logs: Option<Arc<dyn crate::logs::LogSink>>,
}

/// Cross-process invalidation state.
struct Events {
    /// This instance's id, in the events it sends (it skips its own).
    origin: String,
    /// The `NOTIFY` channel (PostgreSQL).
    channel: String,
    /// Bumped by every key invalidation, so a key lookup that raced one reads again.
    key_epoch: Arc<AtomicU64>,
    /// Whether the listener is connected and listening.
    listening: AtomicBool,
    /// The listener task, aborted when the platform is dropped.
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut listener) = self.events.listener.lock()
            && let Some(task) = listener.take()
        {
            task.abort();
        }
    }
}

/// Where one project's data is reached: its database handle, where its tables live, and
/// the roles requests run as. The REST layer runs each request through
/// [`ProjectDb::scope`].
///
/// Take a handle per request ([`Platform::project_db`]) and drop it when done: a
/// dedicated project's pool is closed once the router has evicted it and no handle is
/// left, so a [`Db`] kept beyond its handle may find its pool closed.
///
/// Cheap to clone: one `Arc` (the router hands out a clone per request).
#[derive(Clone)]
pub struct ProjectDb {
    parts: Arc<ProjectDbParts>,
}

impl std::fmt::Debug for ProjectDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parts.fmt(f)
    }
}

/// What a [`ProjectDb`] holds; changed only through [`ProjectDb::parts_mut`] (copy on
/// write, so handles already given out keep what they had).
#[derive(Debug, Clone)]
struct ProjectDbParts {
    project: ProjectId,
    db: Db,
    pg_schema: Option<Ident>,
    roles: RoleNames,
    schema: Option<Arc<ValidSchema>>,
    /// An in-memory SQLite database: never closed.
    in_memory: bool,
    /// It serves an adopted schema: its description is read from the database (adoption
    /// exists on PostgreSQL only).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    adopted: bool,
    /// The named schema it reaches; `None` for the project's own (`public`).
    profile: Option<Arc<str>>,
    /// The profiles the project exposes: `public` first, then its named schemas by name.
    profiles: Arc<[String]>,
    /// Closes a dedicated pool or a database file when the last handle goes.
    _pool: Option<Arc<PoolGuard>>,
}

impl ProjectDb {
    fn new(parts: ProjectDbParts) -> ProjectDb {
        ProjectDb { parts: Arc::new(parts) }
    }

    /// Its parts to change (copied first when another handle shares them).
    fn parts_mut(&mut self) -> &mut ProjectDbParts {
        Arc::make_mut(&mut self.parts)
    }

    /// The project.
    pub fn project(&self) -> &ProjectId {
        &self.parts.project
    }

    /// The database handle holding the project's tables.
    pub fn db(&self) -> &Db {
        &self.parts.db
    }

    /// The dialect of its database.
    pub fn dialect(&self) -> Dialect {
        self.parts.db.dialect()
    }

    /// PostgreSQL: the schema holding its tables.
    pub fn pg_schema(&self) -> Option<&Ident> {
        self.parts.pg_schema.as_ref()
    }

    /// The database roles of its request roles (PostgreSQL).
    pub fn roles(&self) -> &RoleNames {
        &self.parts.roles
    }

    /// Whether it serves an adopted schema (one with its own policies, which may call the
    /// database owner's functions: its reads are not plain reads, see
    /// [`Stmt::plain_read`](crate::db::Stmt::plain_read)).
    pub fn is_adopted(&self) -> bool {
        self.parts.adopted
    }

    /// Its validated schema (modules' tables included), if one was applied.
    pub fn schema(&self) -> Option<&Arc<ValidSchema>> {
        self.parts.schema.as_ref()
    }

    /// The profile (schema) this handle reaches: [`DEFAULT_PROFILE`] (`public`, the
    /// project's own schema) or the name of one of its named schemas
    /// ([`Platform::apply_schema_named`]).
    pub fn profile(&self) -> &str {
        self.parts.profile.as_deref().unwrap_or(DEFAULT_PROFILE)
    }

    /// The profiles the project exposes, as of when this handle was loaded: `public`
    /// first, then its named schemas by name (what PostgREST lists in its PGRST106
    /// answer).
    pub fn profiles(&self) -> &[String] {
        &self.parts.profiles
    }

    /// Whether the project exposes the profile `name`.
    pub fn has_profile(&self, name: &str) -> bool {
        self.parts.profiles.iter().any(|p| p == name)
    }

    /// The router's key of this handle: the project id, or `<id>/<profile>`.
    fn router_key(&self) -> String {
        match &self.parts.profile {
            None => self.parts.project.as_str().to_owned(),
            Some(name) => format!("{}/{name}", self.parts.project),
        }
    }

    /// How DDL for this project is generated.
    pub fn ddl_options(&self) -> DdlOptions {
        DdlOptions { schema: self.parts.pg_schema.clone(), roles: self.parts.roles.clone(), security: true }
    }

    /// The scope of a request: on PostgreSQL `SET LOCAL ROLE` to the project's role for
    /// `ctx.role()` (a role that owns nothing) and the claims, the user id
    /// ([`easbase_schema::policy::CLAIM_SUB_SETTING`]) and the project id set for the
    /// transaction; on SQLite and MySQL the caller adds the compiled policies to its
    /// statements (and a [`crate::db::Guard`] to its writes), and the scope carries no
    /// role or settings (those engines would ignore them; not copying the claims saves
    /// every request an allocation of the token's size).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] when the context belongs to another project.
    pub fn scope(&self, ctx: &RequestContext, read_only: bool) -> Result<Scope> {
        if ctx.project() != &self.parts.project {
            return Err(Error::InvalidToken("the credentials belong to another project".into()));
        }
        if self.dialect() != Dialect::Postgres {
            return Ok(Scope { role: None, settings: Vec::new(), read_only });
        }
        // The user id beside the claims, so that policies' `auth.uid` need not parse them
        // (`CLAIM_SUB_SETTING`); `''` (read as unset) for no user, or an id PostgreSQL
        // cannot hold as text.
        let sub = ctx.uid().filter(|sub| !sub.contains('\0')).unwrap_or_default();
        Ok(Scope {
            role: Some(self.parts.roles.get(ctx.role()).clone()),
            settings: vec![
                (easbase_schema::policy::CLAIMS_SETTING.to_owned(), ctx.claims_json().to_owned()),
                (easbase_schema::policy::CLAIM_SUB_SETTING.to_owned(), sub.to_owned()),
                (PROJECT_SETTING.to_owned(), self.parts.project.as_str().to_owned()),
            ],
            read_only,
        })
    }
}

/// The transaction-local setting that holds the project id (for RLS on shared platform
/// tables: `USING (project_id = current_setting('easbase.project_id'))`).
pub const PROJECT_SETTING: &str = "easbase.project_id";

/// The migration version of the platform tables.
fn platform_version(schema: &Schema) -> String {
    format!("platform-{}", &migrate::checksum(&schema.to_json())[..16])
}

impl Platform {
    /// Opens a platform on `db`: creates or migrates the platform tables (the modules'
    /// platform tables included).
    ///
    /// # Errors
    /// [`Error::Schema`] or [`Error::Database`] when the platform tables cannot be made.
    pub async fn open(db: Db, config: PlatformConfig, modules: Vec<Arc<dyn Module>>) -> Result<Platform> {
        if config.plans.is_empty() {
            return Err(Error::Config("at least one plan is needed".into()));
        }
        let store = Store { dialect: db.dialect(), schema: Some(config.platform_schema.clone()) };
        #[allow(unused_mut)]
        let mut schema = store::platform_schema(modules.iter().map(|m| m.platform_schema()))?;
        #[cfg(feature = "mysql")]
        if db.dialect() == Dialect::Mysql {
            schema.tables.extend(poll::schema().tables);
        }
        let options = ApplyOptions {
            ddl: DdlOptions { schema: store.schema.clone(), security: false, ..Default::default() },
            allow_destructive: false,
        };
        migrate::apply(&mut executor::DbExecutor(&db), &platform_version(&schema), &schema, &options).await?;
        let project_tables = store::tables_keyed_by_project(&schema);
        let quota_counters = schema.tables.iter().any(|t| t.name == crate::quota::COUNTERS_TABLE);
        let has_table = |name: &str| schema.tables.iter().any(|t| t.name == name);
        let metering_tables = (has_table(crate::usage::USAGE_TABLE), has_table(crate::logs::LOGS_TABLE));
        let key_epoch = Arc::new(AtomicU64::new(0));
        let lookup = Arc::new(PlatformKeys {
            db: db.clone(),
            store: store.clone(),
            epoch: Arc::clone(&key_epoch),
            modules: modules.clone(),
            schema: config.platform_schema.clone(),
        });
        let resolver = ContextResolver::new(lookup, KeyCache::new(config.key_cache));
        #[cfg(feature = "postgres")]
        let pg_server = {
            let url = match (&config.postgres, &db) {
                (Some(pg), _) => Some(pg.url.as_str()),
                (None, Db::Postgres(pg)) => pg.config().map(|c| c.url.as_str()),
                #[allow(unreachable_patterns)]
                _ => None,
            };
            url.map(provision::parse_url).transpose()?
        };
        let events = Events {
            origin: uuid::Uuid::new_v4().simple().to_string(),
            channel: events::channel(config.platform_schema.as_str()),
            key_epoch,
            listening: AtomicBool::new(false),
            listener: Mutex::new(None),
        };
        let listen = config.listen;
        let limiter = config.plans.iter().any(|p| p.requests_per_minute.is_some()).then(|| {
            config.rate_limiter.clone().unwrap_or_else(|| {
                Arc::new(if quota_counters {
                    let tables = crate::usage::PlatformTables::new(db.clone(), store.schema.clone());
                    RateLimiter::with_batching(
                        Arc::new(crate::quota::DbCounters::new(tables)),
                        crate::quota::Batching::default(),
                    )
                } else {
                    RateLimiter::new(Arc::new(crate::quota::MemoryCounters::default()))
                })
            })
        });
        let plans = KeyCache::new(config.key_cache);
        let platform = Platform {
            inner: Arc::new(Inner {
                router: Router::new(config.max_open_databases),
                db,
                store,
                project_tables,
                quota_counters,
                provisioning: Mutex::new(HashSet::new()),
                limiter,
                plans,
                usage_sinks: Mutex::new(Vec::new()),
                metering: std::sync::RwLock::new(Metering::default()),
                metering_on: AtomicBool::new(false),
                metering_tables,
                config,
                modules,
                resolver,
                events,
                #[cfg(feature = "postgres")]
                pg_server,
            }),
        };
        #[cfg(feature = "postgres")]
        if listen && platform.inner.db.dialect() == Dialect::Postgres {
            if platform.inner.pg_server.is_some() {
                platform.listen()?;
            } else {
                tracing::warn!(
                    "no connection settings for the platform's PostgreSQL server (a host pool without \
                     PlatformConfig::postgres): caches are not invalidated across processes"
                );
            }
        }
        #[cfg(feature = "mysql")]
        if listen && platform.inner.db.dialect() == Dialect::Mysql {
            platform.listen()?;
        }
        #[cfg(not(any(feature = "postgres", feature = "mysql")))]
        let _ = listen;
        Ok(platform)
    }

    /// PostgreSQL: starts listening for the changes other processes sharing the platform
    /// database make (keys revoked or rotated, projects paused, resumed or deleted,
    /// schemas applied) and applies them to this process's caches. [`Platform::open`]
    /// calls it unless [`PlatformConfig::listen`] is off; calling it again does nothing.
    /// The listener runs on its own connection (outside the pool), reconnects with a
    /// backoff, clears the caches after reconnecting (events may have been missed), and
    /// stops when the last clone of the platform is dropped. See [`PlatformEvent`].
    ///
    /// MySQL: the changes are rows of the platform table `platform_events`, written in
    /// the same transaction as each change; this starts a task that polls it every
    /// [`PlatformConfig::event_poll_interval`] (so other processes see a change within
    /// about one interval).
    ///
    /// On SQLite it does nothing: one process owns the database, and it invalidates its
    /// caches itself.
    ///
    /// # Errors
    /// [`Error::Config`] on PostgreSQL when the platform's connection settings are
    /// unknown (see [`PlatformConfig::postgres`]), or outside a tokio runtime.
    pub fn listen(&self) -> Result<()> {
        #[cfg(feature = "mysql")]
        if self.inner.db.dialect() == Dialect::Mysql {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(Error::Config("listening needs a tokio runtime".into()));
            }
            let running = self.inner.events.listener.lock().unwrap_or_else(|e| e.into_inner()).is_some();
            if !running {
                poll::spawn(self);
            }
        }
        #[cfg(feature = "postgres")]
        if self.inner.db.dialect() == Dialect::Postgres {
            let config = self.inner.pg_server.clone().ok_or_else(|| {
                Error::Config(
                    "listening needs the platform's connection settings: set PlatformConfig::postgres".into(),
                )
            })?;
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(Error::Config("listening needs a tokio runtime".into()));
            }
            let mut listener = self.inner.events.listener.lock().unwrap_or_else(|e| e.into_inner());
            if listener.is_none() {
                *listener = Some(events::spawn(
                    Arc::downgrade(&self.inner),
                    config,
                    self.inner.events.channel.clone(),
                ));
            }
        }
        Ok(())
    }

    /// Whether the cross-process listener is connected and listening (PostgreSQL).
    pub fn is_listening(&self) -> bool {
        self.inner.events.listening.load(Ordering::SeqCst)
    }

    /// Forgets everything this process caches about keys and project schemas (they are
    /// read again on next use). The listener does this after reconnecting.
    pub fn clear_caches(&self) {
        self.inner.clear_caches();
    }

    /// Applies a change made by another process to this one's caches: what the listener
    /// does with each notification. For hosts that carry [`PlatformEvent`]s another way
    /// (their connections cannot `LISTEN`, e.g. behind a transaction-mode pooler).
    pub fn apply_event(&self, event: &PlatformEvent) {
        self.inner.apply_event_inner(event, false);
    }

    /// The platform database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The configuration.
    pub fn config(&self) -> &PlatformConfig {
        &self.inner.config
    }

    fn api_url(&self, id: &str, slug: &str) -> String {
        self.inner
            .config
            .api_url_template
            .replace("{base_url}", &self.inner.config.base_url)
            .replace("{slug}", slug)
            .replace("{id}", id)
    }

    async fn one_project(&self, stmt: crate::db::Stmt, what: &str) -> Result<ProjectRow> {
        let rows = self.inner.db.query(stmt).await?;
        let row = rows.first().ok_or_else(|| Error::ProjectNotFound(what.to_owned()))?;
        store::project_row(row, |id, slug| self.api_url(id, slug))
    }

    async fn row(&self, id: &ProjectId) -> Result<ProjectRow> {
        self.one_project(self.inner.store.project_by_id(id.as_str()), id.as_str()).await
    }

    /// A project by id.
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`].
    pub async fn project(&self, id: &ProjectId) -> Result<Project> {
        Ok(self.row(id).await?.project)
    }

    /// A project's plan: the entry of [`PlatformConfig::plans`] named by
    /// [`Project::plan`]. One platform query; a request path should keep the plan with
    /// what it caches per project.
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`]; [`Error::Config`] when the project's plan is no longer
    /// in the configuration.
    pub async fn plan_of(&self, id: &ProjectId) -> Result<Plan> {
        let name = self.row(id).await?.project.plan;
        self.inner
            .config
            .plans
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| Error::Config(format!("project {id} has plan `{name}`, which is not configured")))
    }

    /// A project by slug.
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`].
    pub async fn project_by_slug(&self, slug: &str) -> Result<Project> {
        Ok(self.one_project(self.inner.store.project_by_slug(slug), slug).await?.project)
    }

    /// The projects of `owner` (all projects when `None`), oldest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn projects(&self, owner: Option<&str>) -> Result<Vec<Project>> {
        let rows = self.inner.db.query(self.inner.store.projects_of(owner)).await?;
        rows.iter()
            .map(|r| store::project_row(r, |id, slug| self.api_url(id, slug)).map(|p| p.project))
            .collect()
    }

    /// Creates and provisions a project; see the module docs.
    ///
    /// With an idempotency key, a retry returns the project already made (without its
    /// keys, shown only once), resumes a `failed` or stalled `provisioning` one, and — while
    /// this or another process on the platform database is still provisioning it (a
    /// double submit) — returns it as `provisioning` without touching it. Across
    /// processes, the unique `(owner, idempotency_key)` of the platform table makes one
    /// project, and a claim in its row ([`PlatformConfig::provisioning_lease`]) lets one
    /// process provision it.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::QuotaExceeded`], [`Error::Provisioning`] (the
    /// project is then `failed` and nothing of it is left in the database; a retry with
    /// the same idempotency key resumes it), [`Error::Schema`] for an invalid schema.
    pub async fn create_project(
        &self,
        owner: &str,
        name: &str,
        options: CreateProject,
    ) -> Result<CreatedProject> {
        let name = check_name(name)?;
        let owner = check_owner(owner)?;
        let plan = match &options.plan {
            Some(p) => self
                .inner
                .config
                .plans
                .iter()
                .find(|x| &x.name == p)
                .ok_or_else(|| Error::Config(format!("unknown plan `{p}`")))?
                .name
                .clone(),
            None => self.inner.config.plans[0].name.clone(),
        };
        if let Some(schema) = &options.schema {
            // Refuse a broken schema before anything is stored.
            self.merged_schema(Some(schema))?
                .validate_for(self.inner.db.dialect())
                .map_err(easbase_schema::Error::from)?;
        }
        if options.database_url.is_some()
            && (options.isolation != Isolation::Dedicated
                || !matches!(self.inner.db.dialect(), Dialect::Postgres | Dialect::Mysql))
        {
            return Err(Error::Config(
                "a database URL is only for dedicated projects on PostgreSQL or MySQL".into(),
            ));
        }
        #[cfg(feature = "mysql")]
        if let Some(url) = &options.database_url
            && self.inner.db.dialect() == Dialect::Mysql
        {
            crate::db::MyConfig::new(url.as_str()).options()?;
        }
        #[cfg(feature = "postgres")]
        if let Some(url) = &options.database_url
            && self.inner.db.dialect() == Dialect::Postgres
        {
            provision::parse_url(url)?;
        }
        if let Some(adopt) = &options.adopt {
            provision::check_adopt(self, adopt)?;
            if options.isolation != Isolation::Shared
                || options.database_url.is_some()
                || options.schema.is_some()
            {
                return Err(Error::Config(
                    "an adopted schema is served as it is: no schema, isolation or database URL with it"
                        .into(),
                ));
            }
        }
        #[cfg(feature = "postgres")]
        if options.isolation == Isolation::Dedicated
            && self.inner.db.dialect() == Dialect::Postgres
            && options.database_url.is_none()
            && self.inner.pg_server.is_none()
        {
            return Err(Error::Config(
                "dedicated projects need the platform's connection settings: set PlatformConfig::postgres"
                    .into(),
            ));
        }
        if let Some(key) = &options.idempotency_key {
            let rows = self.inner.db.query(self.inner.store.project_by_idempotency(owner, key)).await?;
            if let Some(row) = rows.first() {
                let existing = store::project_row(row, |id, slug| self.api_url(id, slug))?;
                return match existing.project.status {
                    ProjectStatus::Failed(_) | ProjectStatus::Provisioning => {
                        // Claimed in this process, then in the platform database (against
                        // other processes); a project being provisioned elsewhere (a double
                        // submit) is reported as it is, without keys.
                        let claim = match self.inner.claim(existing.project.id.as_str()) {
                            Some(claim) if self.claim_lease(existing.project.id.as_str()).await? => {
                                Some(claim)
                            }
                            _ => None,
                        };
                        match claim {
                            Some(claim) => self.provision(existing, options.schema.as_ref(), claim).await,
                            None => {
                                // As it is now (it may have become ready meanwhile).
                                let mut project = self.project(&existing.project.id).await?;
                                if matches!(project.status, ProjectStatus::Failed(_)) {
                                    project.status = ProjectStatus::Provisioning;
                                }
                                Ok(CreatedProject { project, keys: None })
                            }
                        }
                    }
                    _ => Ok(CreatedProject { project: existing.project, keys: None }),
                };
            }
        }
        if let Some(max) = self.inner.config.max_projects_per_owner {
            let n = store::count(&self.inner.db.query(self.inner.store.count_projects_of(owner)).await?)?;
            if u64::try_from(n).unwrap_or(0) >= max {
                return Err(Error::QuotaExceeded { what: "projects per owner".into(), limit: max });
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let project = Project {
            api_url: String::new(),
            slug: slugify(name, &id),
            id: ProjectId::new(id)?,
            name: name.to_owned(),
            owner: owner.to_owned(),
            status: ProjectStatus::Provisioning,
            isolation: options.isolation,
            plan,
            schema_version: None,
            created_at: store::unix(SystemTime::now()),
        };
        let project = Project { api_url: self.api_url(project.id.as_str(), &project.slug), ..project };
        let row = ProjectRow {
            project,
            jwt_secret: random_secret(),
            database_url: options.database_url.clone(),
            adopt: options.adopt.clone(),
        };
        // Claimed before the row exists, so a concurrent retry never provisions it too.
        let claim = self.inner.claim(row.project.id.as_str());
        // Inserted with this process's claim in the platform database, in one transaction.
        let (now, until) = self.lease_times();
        let insert = vec![
            self.inner.store.insert_project(&row, options.idempotency_key.as_deref()),
            self.inner.store.claim_lease(row.project.id.as_str(), &self.inner.events.origin, now, until),
        ];
        if let Err(e) = self.inner.db.transaction(&Scope::default(), insert).await {
            // Two concurrent retries with one idempotency key: the second finds the first.
            if store::is_unique_violation(&e) && options.idempotency_key.is_some() {
                return Box::pin(self.create_project(owner, name, options)).await;
            }
            return Err(e);
        }
        let claim =
            claim.ok_or_else(|| Error::Provisioning("a fresh project id is already claimed".into()))?;
        self.provision(row, options.schema.as_ref(), claim).await
    }

    /// The start and end (Unix seconds) of a provisioning claim made now.
    fn lease_times(&self) -> (i64, i64) {
        let now = store::unix(SystemTime::now());
        let lease = i64::try_from(self.inner.config.provisioning_lease.as_secs()).unwrap_or(i64::MAX);
        (now, now.saturating_add(lease))
    }

    /// Claims the provisioning of a stored project in the platform database for this
    /// instance; `false` while another one holds an unexpired claim.
    async fn claim_lease(&self, id: &str) -> Result<bool> {
        let (now, until) = self.lease_times();
        let stmt = self.inner.store.claim_lease(id, &self.inner.events.origin, now, until);
        Ok(self.inner.db.execute(stmt).await? == 1)
    }

    /// Provisions (or resumes provisioning) a stored project, then issues its keys. The
    /// claim says this task is the one provisioning it in this process.
    async fn provision(
        &self,
        row: ProjectRow,
        schema: Option<&Schema>,
        _claim: Claim<'_>,
    ) -> Result<CreatedProject> {
        let mut project = row.project.clone();
        match self.provision_steps(&row, schema).await {
            Ok(version) => {
                let now = SystemTime::now();
                let publishable = keys::generate(KeyKind::Publishable);
                let secret = keys::generate(KeyKind::Secret);
                let store = &self.inner.store;
                let mut stmts = vec![
                    store.insert_key(&publishable.to_stored(project.id.clone(), now)),
                    store.insert_key(&secret.to_stored(project.id.clone(), now)),
                    store.set_status(project.id.as_str(), &ProjectStatus::Ready),
                    store.release_lease(project.id.as_str()),
                ];
                if let Some(v) = &version {
                    stmts.push(store.set_schema_version(project.id.as_str(), v));
                }
                self.inner.db.transaction(&Scope::default(), stmts).await?;
                project.status = ProjectStatus::Ready;
                project.schema_version = version;
                Ok(CreatedProject { project, keys: Some(ProjectKeys { publishable, secret }) })
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(project = %project.id, error = %reason, "provisioning failed; undoing");
                if let Err(undo) = provision::undo(self, &row).await {
                    tracing::warn!(project = %project.id, error = %undo, "undoing a failed provisioning failed");
                }
                let status = ProjectStatus::Failed(reason.clone());
                let store = &self.inner.store;
                let stmts = vec![
                    store.set_status(project.id.as_str(), &status),
                    store.release_lease(project.id.as_str()),
                ];
                self.inner.db.transaction(&Scope::default(), stmts).await?;
                Err(Error::Provisioning(reason))
            }
        }
    }

    async fn provision_steps(&self, row: &ProjectRow, schema: Option<&Schema>) -> Result<Option<String>> {
        provision::prepare(self, row).await?;
        let mut version = None;
        let merged = self.merged_schema(schema)?;
        if !merged.tables.is_empty() || schema.is_some() {
            let v = if schema.is_some() { "1" } else { "0" };
            self.apply_merged(&row.project.id, v, &merged, false).await?;
            version = Some(v.to_owned());
        }
        let pdb = self.project_db(&row.project.id).await?;
        for m in &self.inner.modules {
            m.provision(&pdb).await?;
        }
        Ok(version)
    }

    /// The modules' project tables plus `schema`'s.
    fn merged_schema(&self, schema: Option<&Schema>) -> Result<Schema> {
        let mut merged = Schema::default();
        for m in &self.inner.modules {
            let s = m.project_schema();
            merged.enums.extend(s.enums);
            merged.tables.extend(s.tables);
        }
        if let Some(s) = schema {
            merged.enums.extend(s.enums.iter().cloned());
            merged.tables.extend(s.tables.iter().cloned());
        }
        Ok(merged)
    }

    async fn apply_merged(
        &self,
        id: &ProjectId,
        version: &str,
        merged: &Schema,
        allow_destructive: bool,
    ) -> Result<ApplyReport> {
        let pdb = self.open_project_db(id).await?;
        let options = ApplyOptions { ddl: pdb.ddl_options(), allow_destructive };
        let report = migrate::apply(&mut executor::DbExecutor(pdb.db()), version, merged, &options).await?;
        // The cached handle holds the old schema: refresh it on the same handle (an
        // in-memory database must never be reopened).
        let epoch = self.inner.router.epoch();
        let schema = provision::current_schema(&pdb).await?.map(Arc::new);
        self.inner.router.set_schema(id.as_str(), schema, None, epoch);
        Ok(report)
    }

    /// Applies a new version of a project's schema through the migration planner.
    /// Destructive steps need `allow_destructive`; applying the same version twice is a
    /// no-op; a different schema under a version already applied is drift.
    ///
    /// # Errors
    /// [`Error::Schema`] (invalid, destructive without opt-in, drift), [`Error::Database`].
    pub async fn apply_schema(
        &self,
        id: &ProjectId,
        version: &str,
        schema: &Schema,
        allow_destructive: bool,
    ) -> Result<ApplyReport> {
        let row = self.row(id).await?;
        if !matches!(row.project.status, ProjectStatus::Ready | ProjectStatus::Paused) {
            return Err(Error::Config(format!("project {id} is {}", row.project.status)));
        }
        if row.adopt.is_some() {
            return Err(Error::Config(format!(
                "project {id} serves an existing schema: change it in the database, then call refresh_schema"
            )));
        }
        let merged = self.merged_schema(Some(schema))?;
        let report = self.apply_merged(id, version, &merged, allow_destructive).await?;
        let stmts = vec![self.inner.store.set_schema_version(id.as_str(), version)];
        self.commit_with_event(stmts, EventKind::SchemaApplied, id, None).await?;
        Ok(report)
    }

    /// Reads a project's schema description again, in this process and (through the
    /// `SchemaApplied` event) in every other one on the platform database: for a project
    /// that serves an existing schema ([`CreateProject::adopt`]) after its tables were
    /// changed in the database, the description is introspected afresh.
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`], [`Error::Database`].
    pub async fn refresh_schema(&self, id: &ProjectId) -> Result<()> {
        self.row(id).await?;
        self.commit_with_event(Vec::new(), EventKind::SchemaApplied, id, None).await?;
        self.inner.router.mark_stale(id.as_str());
        Ok(())
    }

    /// Renames a project (its slug and URL stay).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::ProjectNotFound`].
    pub async fn rename_project(&self, id: &ProjectId, name: &str) -> Result<Project> {
        let name = check_name(name)?;
        if self.inner.db.execute(self.inner.store.set_name(id.as_str(), name)).await? == 0 {
            return Err(Error::ProjectNotFound(id.to_string()));
        }
        self.project(id).await
    }

    /// Pauses a project: its keys are refused until [`Platform::resume_project`].
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`], or a project that is not ready.
    pub async fn pause_project(&self, id: &ProjectId) -> Result<Project> {
        self.move_status(id, &ProjectStatus::Ready, ProjectStatus::Paused, EventKind::ProjectPaused).await
    }

    /// Resumes a paused project.
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`], or a project that is not paused.
    pub async fn resume_project(&self, id: &ProjectId) -> Result<Project> {
        self.move_status(id, &ProjectStatus::Paused, ProjectStatus::Ready, EventKind::ProjectResumed).await
    }

    async fn move_status(
        &self,
        id: &ProjectId,
        from: &ProjectStatus,
        to: ProjectStatus,
        kind: EventKind,
    ) -> Result<Project> {
        let row = self.row(id).await?;
        if &row.project.status != from {
            return Err(Error::Config(format!("project {id} is {}, not {from}", row.project.status)));
        }
        self.commit_with_event(vec![self.inner.store.set_status(id.as_str(), &to)], kind, id, None).await?;
        self.invalidate_keys(id);
        self.project(id).await
    }

    /// Runs `stmts` in one transaction with the `NOTIFY` of `kind` (PostgreSQL) or its row
    /// in `platform_events` (MySQL), so other processes hear of the change if and only if
    /// it commits.
    async fn commit_with_event(
        &self,
        mut stmts: Vec<crate::db::Stmt>,
        kind: EventKind,
        project: &ProjectId,
        key_id: Option<&str>,
    ) -> Result<Vec<crate::db::StmtResult>> {
        let event = || PlatformEvent {
            kind,
            project: project.as_str().to_owned(),
            key_id: key_id.map(str::to_owned),
            origin: Some(self.inner.events.origin.clone()),
        };
        match self.inner.db.dialect() {
            Dialect::Postgres => {
                let payload = serde_json::to_string(&event())
                    .map_err(|e| Error::Config(format!("cannot encode an event: {e}")))?;
                stmts.push(crate::db::Stmt::new(
                    "select pg_notify($1, $2)",
                    sea_query::Values(vec![self.inner.events.channel.clone().into(), payload.into()]),
                ));
            }
            #[cfg(feature = "mysql")]
            Dialect::Mysql => stmts.push(poll::insert(&self.inner.store, &event())?),
            _ => {}
        }
        self.inner.db.transaction(&Scope::default(), stmts).await
    }

    /// Deletes a project and everything it holds (its schema and roles, its named schemas,
    /// its database, or its database files), and its rows in the platform tables: keys, usage counters,
    /// request logs, quota counters, and the rows of every module's platform table with a
    /// `project_id` column. `confirm_slug` must equal the project's slug.
    ///
    /// # Errors
    /// [`Error::Guard`] when the confirmation does not match, [`Error::ProjectNotFound`].
    pub async fn delete_project(&self, id: &ProjectId, confirm_slug: &str) -> Result<()> {
        let row = self.row(id).await?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(row.project.slug.as_bytes(), confirm_slug.as_bytes())) {
            return Err(Error::Guard(format!("deleting project {id} needs its slug as confirmation")));
        }
        // Nothing more is metered for it here (other processes hear of it with the event).
        self.inner.forget_usage(id);
        // Paused first, and every process told: its keys are refused and its handles
        // (a dedicated pool) closed before its database goes.
        let paused = self.inner.store.set_status(id.as_str(), &ProjectStatus::Paused);
        self.commit_with_event(vec![paused], EventKind::ProjectDeleted, id, None).await?;
        self.invalidate_keys(id);
        self.drop_named_schemas_of(&row).await?;
        provision::undo(self, &row).await?;
        let store = &self.inner.store;
        let mut deletes: Vec<_> =
            self.inner.project_tables.iter().map(|t| store.delete_rows_of(t, id.as_str())).collect();
        if self.inner.quota_counters {
            for key in crate::quota::keys_of(id) {
                deletes.push(store.delete_where(crate::quota::COUNTERS_TABLE, "counter_key", &key));
            }
        }
        deletes.push(store.delete_project(id.as_str()));
        self.commit_with_event(deletes, EventKind::ProjectDeleted, id, None).await?;
        self.invalidate_keys(id);
        Ok(())
    }

    /// The keys of a project (hashes only).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn keys(&self, id: &ProjectId) -> Result<Vec<StoredKey>> {
        let rows = self.inner.db.query(self.inner.store.keys_of(id.as_str())).await?;
        rows.iter().map(store::key_row).collect()
    }

    /// Rotates a project's key: a new key of the same kind is issued (shown once) and the
    /// old one keeps working for `grace`, then is refused.
    ///
    /// # Errors
    /// [`Error::InvalidApiKey`] when `key_id` is not a live key of this project.
    pub async fn rotate_key(&self, id: &ProjectId, key_id: &str, grace: Duration) -> Result<GeneratedKey> {
        let now = SystemTime::now();
        let old = self
            .keys(id)
            .await?
            .into_iter()
            .find(|k| k.id == key_id && !k.revoked && k.expires_at.is_none_or(|t| t > now))
            .ok_or(Error::InvalidApiKey)?;
        let (new, old_stored) = keys::rotate(&old, grace, now);
        let expires = old_stored.expires_at.unwrap_or(now);
        let store = &self.inner.store;
        let stmts =
            vec![store.insert_key(&new.to_stored(id.clone(), now)), store.expire_key(key_id, expires)];
        self.commit_with_event(stmts, EventKind::KeyRotated, id, Some(key_id)).await?;
        self.inner.resolver.cache().invalidate(key_id);
        Ok(new)
    }

    /// Revokes a key at once.
    ///
    /// # Errors
    /// [`Error::InvalidApiKey`] when the project has no such key.
    pub async fn revoke_key(&self, id: &ProjectId, key_id: &str) -> Result<()> {
        if !self.keys(id).await?.iter().any(|k| k.id == key_id) {
            return Err(Error::InvalidApiKey);
        }
        let stmts = vec![self.inner.store.revoke_key(key_id)];
        self.commit_with_event(stmts, EventKind::KeyRevoked, id, Some(key_id)).await?;
        self.inner.resolver.cache().invalidate(key_id);
        Ok(())
    }

    /// The request context of a request's `apikey` and `Authorization` headers, admitted
    /// against its project's plan ([`Platform::admit`]): the one call every request of
    /// every HTTP layer goes through. Credentials are checked first, so a bad key or a
    /// paused project is refused before anything is counted. (easbase-rest and
    /// easbase-auth make the same two steps themselves — [`ContextResolver::resolve_headers`],
    /// then [`Platform::admit`] — so a request the plan refuses is still metered to its
    /// project.)
    ///
    /// # Errors
    /// [`Error::MissingCredentials`], [`Error::InvalidApiKey`], [`Error::ProjectPaused`],
    /// token errors, [`Error::RateLimited`] (and the errors of [`Platform::admit`]).
    pub async fn resolve(
        &self,
        apikey: Option<&str>,
        authorization: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<RequestContext> {
        let ctx = self.inner.resolver.resolve_headers(apikey, authorization, request_id).await?;
        self.admit(ctx.project()).await?;
        Ok(ctx)
    }

    /// Counts one request of `project` against its plan's
    /// [`Plan::requests_per_minute`] in the platform's
    /// [limiter](PlatformConfig::rate_limiter). [`Platform::resolve`] calls it; a host
    /// that resolves credentials itself ([`Platform::resolver`]) calls it once per
    /// request. Free when no configured plan limits requests; otherwise the project's
    /// plan comes from a cache (one platform query per project and
    /// [`PlatformConfig::key_cache`] TTL) and the count from the limiter.
    ///
    /// # Errors
    /// [`Error::RateLimited`] over the limit; [`Error::ProjectNotFound`]; the counter
    /// store's errors ([`Error::Database`], [`Error::Unavailable`]).
    pub async fn admit(&self, project: &ProjectId) -> Result<()> {
        let Some(limiter) = &self.inner.limiter else { return Ok(()) };
        let plan = match self.inner.plans.get(project.as_str()) {
            Some(plan) => plan,
            None => self.inner.plans.insert(project.as_str(), self.plan_of(project).await?),
        };
        limiter.check_request(project, &plan).await
    }

    /// The request limiter [`Platform::admit`] uses (`None` when no plan limits
    /// requests).
    pub fn rate_limiter(&self) -> Option<&Arc<RateLimiter>> {
        self.inner.limiter.as_ref()
    }

    /// Attaches a usage sink (held weakly: dropping it detaches it): when a project is
    /// deleted — through this handle, or by another process on the platform database
    /// (heard through [`Platform::listen`]) — the sink drops the counters it holds for it
    /// ([`UsageSink::forget_project`](crate::usage::UsageSink::forget_project)), so they
    /// are not written back after the project's usage rows are gone.
    pub fn attach_usage_sink(&self, sink: &Arc<dyn crate::usage::UsageSink>) {
        let mut sinks = self.inner.usage_sinks.lock().unwrap_or_else(|e| e.into_inner());
        sinks.retain(|s| s.strong_count() > 0);
        sinks.push(Arc::downgrade(sink));
    }

    /// Sets the usage sink every HTTP layer on this platform records to
    /// ([`Platform::record_request`], [`Platform::record_usage`]), replacing the previous
    /// one; it is also attached ([`Platform::attach_usage_sink`]) so a deleted project's
    /// counters are dropped. The platform holds it until replaced or
    /// [`cleared`](Platform::clear_metering).
    pub fn set_usage_sink(&self, sink: Arc<dyn crate::usage::UsageSink>) {
        self.attach_usage_sink(&sink);
        self.change_metering(|m| m.usage = Some(sink));
    }

    /// Sets the request-log sink every HTTP layer on this platform records to
    /// ([`Platform::record_request`]), replacing the previous one.
    pub fn set_log_sink(&self, sink: Arc<dyn crate::logs::LogSink>) {
        self.change_metering(|m| m.logs = Some(sink));
    }

    /// The usage sink requests are recorded to, if one is set.
    pub fn usage_sink(&self) -> Option<Arc<dyn crate::usage::UsageSink>> {
        self.inner.metering.read().unwrap_or_else(|e| e.into_inner()).usage.clone()
    }

    /// The request-log sink requests are recorded to, if one is set.
    pub fn log_sink(&self) -> Option<Arc<dyn crate::logs::LogSink>> {
        self.inner.metering.read().unwrap_or_else(|e| e.into_inner()).logs.clone()
    }

    /// Starts the default sinks and sets them: a [`BatchingSink`](crate::usage::BatchingSink)
    /// when the platform holds [`UsageModule`](crate::usage::UsageModule)'s table, a
    /// [`BatchingLogSink`](crate::logs::BatchingLogSink) when it holds
    /// [`LogsModule`](crate::logs::LogsModule)'s (each left unset otherwise). Returns
    /// which were started, `(usage, logs)`. Call it inside the tokio runtime that serves
    /// requests; the sinks' background tasks run there and flush one last time when
    /// the platform is dropped or [`Platform::clear_metering`] is called.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use easbase_core::db::{Db, SqliteConfig};
    /// use easbase_core::logs::{LogConfig, LogsModule};
    /// use easbase_core::project::{Platform, PlatformConfig};
    /// use easbase_core::usage::{UsageConfig, UsageModule};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> easbase_core::Result<()> {
    /// let db = Db::open_sqlite(SqliteConfig::in_memory())?;
    /// let modules: Vec<Arc<dyn easbase_core::module::Module>> = vec![Arc::new(UsageModule), Arc::new(LogsModule)];
    /// let platform = Platform::open(db, PlatformConfig::new("http://localhost"), modules).await?;
    /// assert_eq!(platform.start_metering(UsageConfig::default(), LogConfig::default())?, (true, true));
    /// assert!(platform.usage_sink().is_some() && platform.log_sink().is_some());
    /// platform.flush_metering().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] outside a tokio runtime or with an invalid configuration.
    pub fn start_metering(
        &self,
        usage: crate::usage::UsageConfig,
        logs: crate::logs::LogConfig,
    ) -> Result<(bool, bool)> {
        let (has_usage, has_logs) = self.inner.metering_tables;
        let tables = crate::usage::PlatformTables::of(self);
        if has_usage {
            self.set_usage_sink(Arc::new(crate::usage::BatchingSink::start(tables.clone(), usage)?));
        }
        if has_logs {
            self.set_log_sink(Arc::new(crate::logs::BatchingLogSink::start(tables, logs)?));
        }
        Ok((has_usage, has_logs))
    }

    /// Unsets both sinks (a default sink's task then flushes once more and ends, when no
    /// other clone of it is left).
    pub fn clear_metering(&self) {
        self.change_metering(|m| *m = Metering::default());
    }

    /// Changes the sinks under the write lock and keeps [`Platform::is_metering`]'s flag
    /// in step.
    fn change_metering(&self, change: impl FnOnce(&mut Metering)) {
        let mut m = self.inner.metering.write().unwrap_or_else(|e| e.into_inner());
        change(&mut m);
        let on = m.usage.is_some() || m.logs.is_some();
        self.inner.metering_on.store(on, Ordering::Release);
    }

    /// Writes what the sinks hold now (tests, a graceful stop).
    ///
    /// # Errors
    /// The sinks' storage errors ([`Error::Database`], [`Error::Unavailable`]).
    pub async fn flush_metering(&self) -> Result<()> {
        if let Some(sink) = self.usage_sink() {
            sink.flush().await?;
        }
        if let Some(sink) = self.log_sink() {
            sink.flush().await?;
        }
        Ok(())
    }

    /// Whether a usage or log sink is set (the HTTP layers skip building what nobody
    /// records).
    pub fn is_metering(&self) -> bool {
        self.inner.metering_on.load(Ordering::Acquire)
    }

    /// Records one finished request: a [`Metric::Requests`](crate::usage::Metric::Requests)
    /// event in the usage sink and a request log in the log sink (whichever are set). One
    /// non-blocking `record` call per sink; nothing when neither is set.
    pub fn record_request(&self, outcome: &crate::usage::RequestOutcome<'_>) {
        let m = self.inner.metering.read().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = &m.usage {
            sink.record_request(outcome);
        }
        if let Some(sink) = &m.logs {
            sink.record_outcome(outcome);
        }
    }

    /// Records one usage event (rows read or written, an auth event, …) in the usage
    /// sink, if one is set.
    pub fn record_usage(&self, event: crate::usage::UsageEvent) {
        if let Some(sink) = &self.inner.metering.read().unwrap_or_else(|e| e.into_inner()).usage {
            sink.record(event);
        }
    }

    /// The resolver (to share its cache or call it with parsed credentials).
    pub fn resolver(&self) -> &ContextResolver {
        &self.inner.resolver
    }

    fn invalidate_keys(&self, id: &ProjectId) {
        self.inner.invalidate_project_keys(id.as_str());
    }

    /// Where a ready project's data is reached: its handle from the router (opened on
    /// demand; a dedicated project's pool is opened then, and closed again when evicted).
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`]; [`Error::Unavailable`] or [`Error::Database`] when its
    /// database cannot be reached.
    pub async fn project_db(&self, id: &ProjectId) -> Result<ProjectDb> {
        self.open_project_db(id).await
    }

    async fn open_project_db(&self, id: &ProjectId) -> Result<ProjectDb> {
        let router = &self.inner.router;
        let epoch = router.epoch();
        match router.get(id.as_str()) {
            Lookup::Hit(pdb) => return Ok(pdb),
            Lookup::Stale(mut pdb) => {
                // Reload the schema on the same handle (the same pool or in-memory database).
                let schema = provision::current_schema(&pdb).await?.map(Arc::new);
                let profiles = self.profiles_of(id).await?;
                let parts = pdb.parts_mut();
                parts.schema = schema;
                parts.profiles = profiles;
                router.set_schema(id.as_str(), parts.schema.clone(), Some(parts.profiles.clone()), epoch);
                return Ok(pdb);
            }
            Lookup::Miss => {}
        }
        let row = self.row(id).await?;
        let opened = provision::database(self, &row).await?;
        let pg_schema = provision::pg_schema_of(self, &row);
        let roles = provision::role_names_of(self, &row);
        let mut pdb = ProjectDb::new(ProjectDbParts {
            project: id.clone(),
            db: opened.db,
            pg_schema,
            roles,
            schema: None,
            in_memory: opened.in_memory,
            adopted: row.adopt.is_some(),
            profile: None,
            profiles: self.profiles_of(id).await?,
            _pool: opened.guard,
        });
        pdb.parts_mut().schema = provision::current_schema(&pdb).await?.map(Arc::new);
        Ok(router.insert(pdb, epoch))
    }

    /// How many project handles the router holds (for tests and metrics).
    pub fn open_databases(&self) -> usize {
        self.inner.router.len()
    }

    /// How many dedicated projects' pools (and SQLite database files) are open: those the
    /// router holds plus those still used by a handle after their eviction. Bounded by
    /// [`PlatformConfig::max_open_databases`] plus the handles in use.
    pub fn open_pools(&self) -> usize {
        self.inner.router.open_pools()
    }
}

/// A project being provisioned by this process (released when dropped).
struct Claim<'a> {
    claims: &'a Mutex<HashSet<String>>,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Inner {
    /// Claims the provisioning of `id` in this process; `None` while another task holds it.
    fn claim(&self, id: &str) -> Option<Claim<'_>> {
        let fresh = self.provisioning.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned());
        fresh.then(|| Claim { claims: &self.provisioning, id: id.to_owned() })
    }

    /// Tells the attached usage sinks and the log sink that `project` is deleted
    /// (dropping usage sinks that are gone).
    fn forget_usage(&self, project: &ProjectId) {
        if let Some(logs) = &self.metering.read().unwrap_or_else(|e| e.into_inner()).logs {
            logs.forget_project(project);
        }
        let mut sinks = self.usage_sinks.lock().unwrap_or_else(|e| e.into_inner());
        sinks.retain(|sink| match sink.upgrade() {
            Some(sink) => {
                sink.forget_project(project);
                true
            }
            None => false,
        });
    }

    fn invalidate_project_keys(&self, project: &str) {
        self.plans.invalidate(project);
        self.events.key_epoch.fetch_add(1, Ordering::SeqCst);
        self.resolver.cache().invalidate_if(|_, (_, state)| state.project.as_str() == project);
    }

    /// Forgets everything cached: keys, and the schemas of open handles.
    fn clear_caches(&self) {
        self.events.key_epoch.fetch_add(1, Ordering::SeqCst);
        self.resolver.cache().clear();
        self.plans.clear();
        self.router.mark_all_stale();
    }

    /// Applies an event to the caches; `remote` events sent by this instance are skipped
    /// (it applied them when it made the change).
    fn apply_event_inner(&self, event: &PlatformEvent, remote: bool) {
        if remote && event.origin.as_deref() == Some(self.events.origin.as_str()) {
            return;
        }
        tracing::debug!(kind = ?event.kind, project = %event.project, "platform event");
        match event.kind {
            EventKind::KeyRevoked | EventKind::KeyRotated => {
                self.events.key_epoch.fetch_add(1, Ordering::SeqCst);
                match &event.key_id {
                    Some(key) => {
                        self.resolver.cache().invalidate(key);
                    }
                    None => self.invalidate_project_keys(&event.project),
                }
            }
            EventKind::ProjectPaused | EventKind::ProjectResumed => {
                self.invalidate_project_keys(&event.project)
            }
            EventKind::ProjectDeleted => {
                if let Ok(id) = ProjectId::new(event.project.as_str()) {
                    self.forget_usage(&id);
                }
                self.invalidate_project_keys(&event.project);
                self.router.forget(&event.project);
            }
            EventKind::SchemaApplied => self.router.mark_stale(&event.project),
        }
    }
}

/// The platform's key lookup for the request path.
struct PlatformKeys {
    db: Db,
    store: Store,
    /// Bumped by every key invalidation (see [`Events::key_epoch`]).
    epoch: Arc<AtomicU64>,
    /// The modules, asked for projects' other token keys ([`Module::jwt_keys`]).
    modules: Vec<Arc<dyn Module>>,
    /// The schema of the platform tables.
    schema: Ident,
}

#[async_trait]
impl KeyLookup for PlatformKeys {
    async fn key(&self, key_id: &str) -> Result<Option<(StoredKey, ProjectState)>> {
        // An invalidation that arrives while the key is read may be about what was just
        // read: read again (a notice is only sent after its change committed), so the
        // resolver does not cache what the notice meant to remove.
        let mut rows = Vec::new();
        for _ in 0..3 {
            let epoch = self.epoch.load(Ordering::SeqCst);
            rows = self.db.query(self.store.key_with_project(key_id)).await?;
            if self.epoch.load(Ordering::SeqCst) == epoch {
                break;
            }
        }
        let Some(row) = rows.first() else { return Ok(None) };
        let key = store::key_row(row)?;
        let status = row.text("project_status")?;
        let secret = row.text("jwt_secret")?;
        let mut jwt_keys = vec![JwtKey::hs256(secret.as_bytes())?];
        for m in &self.modules {
            jwt_keys.extend(m.jwt_keys(&self.db, &self.schema, &key.project_id).await?);
        }
        let verifier = JwtVerifier::new(jwt_keys, JwtConfig::default())?;
        let state = ProjectState {
            project: key.project_id.clone(),
            paused: status != "ready",
            verifier: Arc::new(verifier),
        };
        Ok(Some((key, state)))
    }
}

impl Platform {
    /// The HS256 secret end-user tokens of a project are signed with (auth issues them).
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`].
    pub async fn jwt_secret(&self, id: &ProjectId) -> Result<String> {
        Ok(self.row(id).await?.jwt_secret)
    }
}

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::InvalidName("a project name is 1 to 100 printable characters".into()));
    }
    Ok(name)
}

fn check_owner(owner: &str) -> Result<&str> {
    if owner.is_empty() || owner.len() > 200 || owner.chars().any(char::is_control) {
        return Err(Error::InvalidName("an owner id is 1 to 200 printable characters".into()));
    }
    Ok(owner)
}

/// `My E-commerce Backend` → `my-e-commerce-backend-3f2a9c`: readable, unique by its tail.
fn slugify(name: &str, id: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut slug: String = slug.trim_end_matches('-').chars().take(32).collect();
    slug = slug.trim_end_matches('-').to_owned();
    if !slug.is_empty() {
        slug.push('-');
    }
    slug.push_str(&id[..6]);
    slug
}

/// A random HS256 secret (256 bits, base64url).
fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_and_bounded() {
        assert_eq!(slugify("My E-commerce Backend", "3f2a9c00"), "my-e-commerce-backend-3f2a9c");
        assert_eq!(slugify("!!!", "abcdef12"), "abcdef");
        assert!(slugify(&"x".repeat(200), "abcdef12").len() <= 40);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("  ").is_err());
        assert!(check_name(&"a".repeat(101)).is_err());
        assert!(check_name("a\nb").is_err());
        assert_eq!(check_name(" Shop ").unwrap(), "Shop");
    }
}
