//! Fixtures: a platform with the auth module and one project, on SQLite (in memory),
//! PostgreSQL (`EASBASE_PG_URL`, a random platform schema dropped at the end) or
//! MariaDB/MySQL (`EASBASE_MYSQL_URL`, default `mysql://root@127.0.0.1:3306`: a random
//! platform database, dropped at the end with the project's database).

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
    Mysql,
}

/// What [`Fixture::cleanup`] drops: the platform's schema (PostgreSQL) or database (MySQL).
#[derive(Debug, Clone)]
enum Platformed {
    None,
    PgSchema(String),
    MyDatabase(String),
}

pub struct Fixture {
    pub platform: Platform,
    pub project: ProjectId,
    pub publishable: String,
    /// The project's secret key (the service role).
    pub secret: String,
    pub auth: ProjectAuth,
    pub api_url: String,
    platformed: Platformed,
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

/// The MariaDB/MySQL server of the tests (no database part).
#[cfg(feature = "mysql")]
pub fn mysql_url() -> String {
    std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A connection to the MariaDB/MySQL server (no database selected).
#[cfg(feature = "mysql")]
pub async fn mysql_server() -> Db {
    use easbase_core::db::MyConfig;
    Db::connect_mysql(MyConfig::new(mysql_url()).pool_size(1)).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach MariaDB/MySQL at {} ({e}); start it: start-stop-daemon --start --oknodo \
             --background --exec /usr/sbin/mariadbd (or set EASBASE_MYSQL_URL)",
            mysql_url()
        )
    })
}

/// A new, randomly named database on the MariaDB/MySQL server and a pool on it.
#[cfg(feature = "mysql")]
pub async fn mysql_database() -> (Db, String) {
    use easbase_core::db::MyConfig;
    let name = format!("t_auth_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    mysql_server().await.execute_script(&[format!("create database {name}")]).await.unwrap();
    let url = format!("{}/{name}", mysql_url().trim_end_matches('/'));
    (Db::connect_mysql(MyConfig::new(url).pool_size(8)).await.unwrap(), name)
}

/// Deletes every project of `platform` (their databases go with them) and drops the
/// platform's database `name`.
#[cfg(feature = "mysql")]
pub async fn drop_mysql_platform(platform: &Platform, name: &str) {
    for p in platform.projects(None).await.unwrap() {
        platform.delete_project(&p.id, &p.slug).await.unwrap();
    }
    mysql_server().await.execute_script(&[format!("drop database if exists {name}")]).await.unwrap();
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
        #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(unused_mut))]
        let mut platformed = Platformed::None;
        let db = match engine {
            Engine::Sqlite => Db::open_sqlite(SqliteConfig::in_memory()).unwrap(),
            Engine::Postgres => {
                #[cfg(feature = "postgres")]
                {
                    use easbase_core::db::PgConfig;
                    let schema = format!("t_auth_{}", uuid::Uuid::new_v4().simple());
                    platform_config.platform_schema =
                        easbase_core::schema::Ident::new(schema.clone()).unwrap();
                    platformed = Platformed::PgSchema(schema);
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
            Engine::Mysql => {
                #[cfg(feature = "mysql")]
                {
                    let (db, name) = mysql_database().await;
                    platformed = Platformed::MyDatabase(name);
                    db
                }
                #[cfg(not(feature = "mysql"))]
                unreachable!("MariaDB/MySQL tests need the `mysql` feature")
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
            platformed,
        }
    }

    /// The request context of a session's access token, through core's resolver.
    pub async fn ctx(&self, session: &Session) -> RequestContext {
        let bearer = format!("Bearer {}", session.access_token);
        self.platform.resolve(Some(&self.publishable), Some(&bearer), None).await.unwrap()
    }

    /// A project table's name for raw SQL (schema-qualified on PostgreSQL, in backticks on
    /// MySQL).
    pub async fn table(&self, name: &str) -> String {
        let pdb = self.platform.project_db(&self.project).await.unwrap();
        match pdb.pg_schema() {
            Some(s) => format!("\"{}\".\"{name}\"", s.as_str()),
            None if self.engine() == Engine::Mysql => format!("`{name}`"),
            None => format!("\"{name}\""),
        }
    }

    /// The engine under the platform.
    pub fn engine(&self) -> Engine {
        match self.auth_dialect() {
            easbase_core::schema::Dialect::Postgres => Engine::Postgres,
            easbase_core::schema::Dialect::Mysql => Engine::Mysql,
            _ => Engine::Sqlite,
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
        match &self.platformed {
            Platformed::None => {}
            Platformed::PgSchema(schema) => {
                for p in self.platform.projects(None).await.unwrap() {
                    self.platform.delete_project(&p.id, &p.slug).await.unwrap();
                }
                self.platform
                    .db()
                    .execute_script(&[format!("DROP SCHEMA \"{schema}\" CASCADE")])
                    .await
                    .unwrap();
            }
            #[cfg(feature = "mysql")]
            Platformed::MyDatabase(name) => drop_mysql_platform(&self.platform, name).await,
            #[cfg(not(feature = "mysql"))]
            Platformed::MyDatabase(_) => unreachable!("MariaDB/MySQL tests need the `mysql` feature"),
        }
    }
}

/// Generates `sqlite::<name>`, (with the `postgres` feature) `postgres::<name>` and (with
/// the `mysql` feature) `mysql::<name>` tests from `async fn <name>(engine: Engine)`.
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
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Engine::Mysql).await;
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
