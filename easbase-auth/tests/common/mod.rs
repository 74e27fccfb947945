//! Fixtures: a platform with the auth module and one project, on SQLite (in memory) or
//! PostgreSQL (`EASBASE_PG_URL`, a random platform schema dropped at the end).

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use easbase_auth::{
    Auth, AuthConfig, AuthModule, CustomClaimsHook, PasswordHashConfig, ProjectAuth, Session,
};
use easbase_core::context::{ProjectId, RequestContext};
use easbase_core::db::{Cell, Db, SqliteConfig, Stmt};
use easbase_core::project::{CreateProject, Platform, PlatformConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct Fixture {
    pub platform: Platform,
    pub project: ProjectId,
    pub publishable: String,
    /// The project's secret key (the service role).
    pub secret: String,
    pub auth: ProjectAuth,
    pub api_url: String,
    platform_schema: Option<String>,
}

/// A fast test configuration (tiny Argon2 cost, explicitly).
pub fn config() -> AuthConfig {
    AuthConfig {
        password_hash: PasswordHashConfig::insecure_fast_for_tests(),
        ..AuthConfig::new("http://app.test")
    }
}

pub fn autoconfirm() -> AuthConfig {
    AuthConfig { autoconfirm: true, ..config() }
}

#[cfg(feature = "postgres")]
fn pg_url() -> String {
    std::env::var("EASBASE_PG_URL").unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
}

impl Fixture {
    pub async fn new(engine: Engine, config: AuthConfig) -> Fixture {
        Fixture::with_hook(engine, config, None).await
    }

    pub async fn with_hook(
        engine: Engine,
        config: AuthConfig,
        hook: Option<Arc<dyn CustomClaimsHook>>,
    ) -> Fixture {
        #[cfg_attr(not(feature = "postgres"), allow(unused_mut))]
        let mut platform_config = PlatformConfig::new("http://api.test");
        #[cfg_attr(not(feature = "postgres"), allow(unused_mut))]
        let mut platform_schema = None;
        let db = match engine {
            Engine::Sqlite => Db::open_sqlite(SqliteConfig::in_memory()).unwrap(),
            Engine::Postgres => {
                #[cfg(feature = "postgres")]
                {
                    use easbase_core::db::PgConfig;
                    let schema = format!("t_auth_{}", uuid::Uuid::new_v4().simple());
                    platform_config.platform_schema =
                        easbase_core::schema::Ident::new(schema.clone()).unwrap();
                    platform_schema = Some(schema);
                    Db::connect_postgres(PgConfig::new(pg_url())).await.unwrap_or_else(|e| {
                        panic!(
                            "cannot reach PostgreSQL at {} ({e}); start it: \
                             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start \
                             (or set EASBASE_PG_URL)",
                            pg_url()
                        )
                    })
                }
                #[cfg(not(feature = "postgres"))]
                unreachable!("PostgreSQL tests need the `postgres` feature")
            }
        };
        let platform =
            Platform::open(db, platform_config, vec![Arc::new(AuthModule::default())]).await.unwrap();
        let created = platform.create_project("owner", "Auth Test", CreateProject::default()).await.unwrap();
        let keys = created.keys.unwrap();
        let (publishable, secret) = (keys.publishable.secret, keys.secret.secret);
        let auth = Auth::new(config, hook).unwrap().project(&platform, &created.project.id).await.unwrap();
        Fixture {
            platform,
            project: created.project.id,
            publishable,
            secret,
            auth,
            api_url: created.project.api_url,
            platform_schema,
        }
    }

    /// The request context of a session's access token, through core's resolver.
    pub async fn ctx(&self, session: &Session) -> RequestContext {
        let bearer = format!("Bearer {}", session.access_token);
        self.platform.resolve(Some(&self.publishable), Some(&bearer), None).await.unwrap()
    }

    /// A project table's name for raw SQL (schema-qualified on PostgreSQL).
    pub async fn table(&self, name: &str) -> String {
        let pdb = self.platform.project_db(&self.project).await.unwrap();
        match pdb.pg_schema() {
            Some(s) => format!("\"{}\".\"{name}\"", s.as_str()),
            None => format!("\"{name}\""),
        }
    }

    /// Every cell of a project table as text.
    pub async fn dump(&self, name: &str) -> Vec<String> {
        let pdb = self.platform.project_db(&self.project).await.unwrap();
        let rows =
            pdb.db().query(Stmt::raw(format!("select * from {}", self.table(name).await))).await.unwrap();
        rows.iter()
            .flat_map(|r| r.cells.iter())
            .map(|c| match c {
                Cell::Null => String::new(),
                Cell::Bool(b) => b.to_string(),
                Cell::Int(i) => i.to_string(),
                Cell::Float(f) => f.to_string(),
                Cell::Text(t) => t.clone(),
                Cell::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            })
            .collect()
    }

    /// Runs fixed SQL (tests only) on the project's database.
    pub async fn exec(&self, sql: String, values: Vec<sea_query::Value>) -> u64 {
        let pdb = self.platform.project_db(&self.project).await.unwrap();
        pdb.db().execute(Stmt::new(sql, sea_query::Values(values))).await.unwrap()
    }

    pub async fn scalar(&self, sql: String, values: Vec<sea_query::Value>) -> Cell {
        let pdb = self.platform.project_db(&self.project).await.unwrap();
        let rows = pdb.db().query(Stmt::new(sql, sea_query::Values(values))).await.unwrap();
        rows.first().map(|r| r.cells[0].clone()).unwrap_or(Cell::Null)
    }

    pub fn placeholder(&self, n: usize) -> String {
        match self.auth_dialect() {
            easbase_core::schema::Dialect::Postgres => format!("${n}"),
            _ => "?".into(),
        }
    }

    fn auth_dialect(&self) -> easbase_core::schema::Dialect {
        self.platform.db().dialect()
    }

    pub async fn cleanup(self) {
        if let Some(schema) = &self.platform_schema {
            for p in self.platform.projects(None).await.unwrap() {
                self.platform.delete_project(&p.id, &p.slug).await.unwrap();
            }
            self.platform.db().execute_script(&[format!("DROP SCHEMA \"{schema}\" CASCADE")]).await.unwrap();
        }
    }
}

/// Generates `sqlite_<name>` and (with the `postgres` feature) `postgres_<name>` tests
/// from `async fn <name>(engine: Engine)`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Engine::Sqlite).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Engine::Postgres).await;
                }
            )*
        }
    };
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a form field or a
/// query value).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An OAuth HTTP client that refuses every request (for tests where `/authorize` only
/// builds the provider's URL).
pub struct NoHttp;

#[async_trait::async_trait]
impl easbase_auth::oauth::HttpClient for NoHttp {
    async fn send(
        &self,
        _request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, String> {
        Err("no network in this test".into())
    }
}
