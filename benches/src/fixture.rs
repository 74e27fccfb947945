//! The data every scenario reads: one EasBase host (REST at `/rest/v1`, auth at
//! `/auth/v1`, mounted as `easbase serve` mounts them) on a runtime of its own, one project
//! with an `items` table of [`ROWS`] rows owned by one signed-up user, a `notes` table for
//! inserts, and a few more users for the login scenario.

use std::net::SocketAddr;
use std::time::Duration;

use easbase_auth::RateLimits;
use easbase_cli::client::Client;
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::host::{self, Services};
use easbase_core::context::ProjectId;
use easbase_core::project::{CreateProject, Platform};
use easbase_core::schema::Schema;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::error::{Error, Result};
use crate::servers::{self, Served};

/// Rows in `items`.
pub const ROWS: u64 = 10_000;
/// Distinct `category` values (1 to 10), each holding a tenth of the rows.
pub const CATEGORIES: u64 = 10;
/// The password of every user.
pub const PASSWORD: &str = "correct horse battery staple 42";

/// The project's schema: `items` (read by key and by page) and `notes` (written), each
/// row owned through `auth.uid`, with the four owner policies.
pub const SCHEMA: &str = r#"{ "tables": [
  { "name": "items", "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "owner_id", "type": "uuid", "required": true, "default": "auth.uid" },
      { "name": "name", "type": "text", "required": true },
      { "name": "category", "type": "integer", "required": true },
      { "name": "price", "type": "integer", "required": true } ],
    "indexes": [ { "columns": ["category"] } ],
    "policies": { "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid",
                  "update": "owner_id = auth.uid", "delete": "owner_id = auth.uid" } },
  { "name": "notes", "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "owner_id", "type": "uuid", "required": true, "default": "auth.uid" },
      { "name": "body", "type": "text", "required": true } ],
    "policies": { "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid",
                  "update": "owner_id = auth.uid", "delete": "owner_id = auth.uid" } } ] }"#;

/// Where the platform lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// PostgreSQL at this URL; the platform gets a schema of its own, dropped afterwards.
    Postgres(String),
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct User {
    /// The address signed up with ([`PASSWORD`] is the password).
    pub email: String,
    /// The user's id (`sub`).
    pub id: String,
    /// An access token (a JWT, valid for an hour).
    pub token: String,
}

/// PostgreSQL names the hand-written reference servers need.
#[derive(Debug, Clone)]
pub struct PgNames {
    /// The server's URL.
    pub url: String,
    /// The project's schema (`p_<id>`).
    pub schema: String,
    /// The project's role of requests with a user's token.
    pub authenticated_role: String,
    /// The platform's schema (dropped on teardown).
    pub platform_schema: String,
}

/// A running EasBase host with its data, on a server runtime of its own.
pub struct Fixture {
    /// The backend.
    pub backend: Backend,
    /// The runtime every server of this fixture runs on (never the load generator's).
    pub runtime: Runtime,
    /// The platform.
    pub platform: Platform,
    /// The project's id and slug.
    pub project: (ProjectId, String),
    /// The project's publishable key (`apikey`).
    pub publishable_key: String,
    /// The owner of every row.
    pub owner: User,
    /// Users for the login scenario.
    pub login_users: Vec<User>,
    /// The EasBase host.
    pub easbase: Served,
    /// PostgreSQL names (PostgreSQL only).
    pub pg: Option<PgNames>,
    /// The project's SQLite file (SQLite only).
    pub sqlite_file: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("backend", &self.backend.name())
            .field("project", &self.project.1)
            .field("easbase", &self.easbase.addr)
            .finish_non_exhaustive()
    }
}

/// The auth settings of the bench host: auto-confirmed sign-ups, no rate limits (every
/// request comes from one address), Argon2id at its default (OWASP) cost.
pub fn auth_config() -> easbase_auth::AuthConfig {
    easbase_auth::AuthConfig { rate_limits: RateLimits::none(), ..host::dev_auth_config(false) }
}

impl Fixture {
    /// Starts a runtime of `server_threads` workers, opens a platform on `backend`,
    /// creates the project, signs up the owner and `login_users` more users, and inserts
    /// [`ROWS`] rows.
    ///
    /// # Errors
    /// [`Error::Setup`] when any step fails (PostgreSQL unreachable, …).
    pub fn start(backend: Backend, server_threads: usize, login_users: usize) -> Result<Fixture> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(server_threads.max(1))
            .thread_name("bench-server")
            .enable_all()
            .build()
            .map_err(|e| Error::setup("server runtime", e))?;
        let dir = tempfile::tempdir().map_err(|e| Error::setup("temporary folder", e))?;
        let platform_schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let url = match &backend {
            Backend::Sqlite => DatabaseUrl::SqliteFile(dir.path().join("platform.db")),
            Backend::Postgres(url) => DatabaseUrl::Postgres(url.clone()),
        };
        let pg_schema = matches!(backend, Backend::Postgres(_)).then_some(platform_schema.as_str());
        let setup = runtime.block_on(async {
            let (listener, base_url) = host::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .map_err(|e| Error::setup("bind", e))?;
            let platform = database::open_platform(&url, &base_url, pg_schema)
                .await
                .map_err(|e| Error::setup("open the platform", e))?;
            let services =
                Services::new(&platform, auth_config()).map_err(|e| Error::setup("services", e))?;
            let easbase = servers::serve(listener, host::router(services))?;
            let schema = Schema::from_json(SCHEMA).map_err(|e| Error::setup("schema", e))?;
            let created = platform
                .create_project(
                    "bench",
                    "load bench",
                    CreateProject { schema: Some(schema), ..Default::default() },
                )
                .await
                .map_err(|e| Error::setup("create the project", e))?;
            let keys = created.keys.ok_or_else(|| Error::Setup("a new project shows its keys".into()))?;
            let publishable_key = keys.publishable.secret;
            let client = Client::new(&base_url);
            let owner = sign_up(&client, &publishable_key, "owner@bench.test").await?;
            seed(&client, &publishable_key, &owner).await?;
            let mut users = Vec::new();
            for i in 0..login_users {
                users.push(sign_up(&client, &publishable_key, &format!("login{i}@bench.test")).await?);
            }
            let pg = match &backend {
                Backend::Sqlite => None,
                Backend::Postgres(url) => {
                    let db = platform
                        .project_db(&created.project.id)
                        .await
                        .map_err(|e| Error::setup("the project's database", e))?;
                    let schema = db
                        .pg_schema()
                        .ok_or_else(|| Error::Setup("a PostgreSQL project has a schema".into()))?
                        .to_string();
                    Some(PgNames {
                        url: url.clone(),
                        schema,
                        authenticated_role: db.roles().authenticated.to_string(),
                        platform_schema: platform_schema.clone(),
                    })
                }
            };
            Ok::<_, Error>((
                platform,
                (created.project.id, created.project.slug),
                publishable_key,
                owner,
                users,
                easbase,
                pg,
            ))
        });
        let (platform, project, publishable_key, owner, login_users, easbase, pg) = match setup {
            Ok(parts) => parts,
            Err(e) => {
                if let Backend::Postgres(url) = &backend {
                    let _ = runtime.block_on(servers::drop_pg_schema(url, &platform_schema));
                }
                return Err(e);
            }
        };
        // A SQLite platform keeps each project's database in its projects folder.
        let sqlite_file = url.projects_dir().map(|d| d.join(format!("{}.sqlite", project.0)));
        Ok(Fixture {
            backend,
            runtime,
            platform,
            project,
            publishable_key,
            owner,
            login_users,
            easbase,
            pg,
            sqlite_file,
            _dir: dir,
        })
    }

    /// The headers of a REST request as the owner: `apikey` and the bearer token.
    pub fn owner_headers(&self) -> [(&'static str, String); 2] {
        [("apikey", self.publishable_key.clone()), ("authorization", format!("Bearer {}", self.owner.token))]
    }

    /// Stops the servers, deletes the project and (PostgreSQL) drops the platform schema.
    ///
    /// # Errors
    /// [`Error::Setup`] when the clean-up fails.
    pub fn teardown(self) -> Result<()> {
        let Fixture { runtime, platform, project, easbase, pg, .. } = self;
        let result = runtime.block_on(async {
            easbase.stop().await;
            platform
                .delete_project(&project.0, &project.1)
                .await
                .map_err(|e| Error::setup("delete the project", e))?;
            drop(platform);
            if let Some(pg) = &pg {
                servers::drop_pg_schema(&pg.url, &pg.platform_schema).await?;
            }
            Ok(())
        });
        runtime.shutdown_timeout(Duration::from_secs(2));
        result
    }
}

/// Signs up `email` with [`PASSWORD`] (auto-confirmed) and returns the user with a token.
async fn sign_up(client: &Client, apikey: &str, email: &str) -> Result<User> {
    let answer = client
        .post("/auth/v1/signup")
        .apikey(apikey)
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .and_then(|r| r.expect(&[200]))
        .map_err(|e| Error::setup("sign up", e))?;
    let field = |v: &Value| v.as_str().map(str::to_owned);
    let token = field(&answer["access_token"]).ok_or_else(|| Error::Setup(format!("sign up: {answer}")))?;
    let id = field(&answer["user"]["id"]).ok_or_else(|| Error::Setup(format!("sign up: {answer}")))?;
    Ok(User { email: email.to_owned(), id, token })
}

/// Inserts [`ROWS`] items owned by `owner` through REST, a thousand per request.
async fn seed(client: &Client, apikey: &str, owner: &User) -> Result<()> {
    const BATCH: u64 = 1_000;
    for start in (0..ROWS).step_by(BATCH as usize) {
        let rows: Vec<Value> = (start..(start + BATCH).min(ROWS))
            .map(|i| json!({ "name": format!("item {}", i + 1), "category": i % CATEGORIES + 1, "price": (i * 37) % 1000 }))
            .collect();
        client
            .post("/rest/v1/items")
            .apikey(apikey)
            .bearer(&owner.token)
            .json(&Value::Array(rows))
            .send()
            .await
            .and_then(|r| r.expect(&[201]))
            .map_err(|e| Error::setup("insert the rows", e))?;
    }
    Ok(())
}
