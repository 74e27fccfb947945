//! Test databases: each test gets its own randomly named PostgreSQL schema (and roles) or
//! MariaDB database, dropped when the guard is dropped, so tests run in parallel.
//!
//! PostgreSQL: `EASBASE_PG_URL` (default `host=127.0.0.1 user=postgres dbname=postgres`).
//! MariaDB / MySQL: `EASBASE_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`).
#![allow(dead_code, unreachable_pub)]

use rand::Rng;

/// A random lower-case name with a prefix, e.g. `t_k3j9x0q2ab`.
pub fn random_name(prefix: &str) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..10).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect();
    format!("{prefix}_{tail}")
}

pub fn pg_url() -> String {
    std::env::var("EASBASE_PG_URL").unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
}

pub fn mysql_url() -> String {
    std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// Connects to PostgreSQL, or panics with how to start it.
pub async fn pg_connect() -> tokio_postgres::Client {
    let url = pg_url();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at `{url}` ({e}).\nStart it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\nor point EASBASE_PG_URL at a server."
        )
    });
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A PostgreSQL schema and three request roles of its own.
pub struct PgScratch {
    pub client: tokio_postgres::Client,
    pub schema: String,
    pub anon: String,
    pub authenticated: String,
    pub service: String,
}

impl PgScratch {
    pub async fn new() -> PgScratch {
        let client = pg_connect().await;
        let schema = random_name("t");
        let (anon, authenticated, service) =
            (format!("{schema}_anon"), format!("{schema}_authenticated"), format!("{schema}_service"));
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema}; CREATE ROLE {anon} NOLOGIN; CREATE ROLE {authenticated} NOLOGIN; CREATE ROLE {service} NOLOGIN;"
            ))
            .await
            .expect("create scratch schema and roles");
        PgScratch { client, schema, anon, authenticated, service }
    }

    pub fn ddl_options(&self) -> easbase_schema::ddl::DdlOptions {
        use easbase_schema::Ident;
        easbase_schema::ddl::DdlOptions {
            schema: Some(Ident::new(self.schema.clone()).unwrap()),
            roles: easbase_schema::ddl::RoleNames {
                anon: Ident::new(self.anon.clone()).unwrap(),
                authenticated: Ident::new(self.authenticated.clone()).unwrap(),
                service: Ident::new(self.service.clone()).unwrap(),
            },
            security: true,
        }
    }

    /// Drops the schema and roles. Call at the end of the test (a panic leaves them;
    /// their random names keep other tests unaffected).
    pub async fn drop(self) {
        let s = &self.schema;
        self.client
            .batch_execute(&format!(
                "DROP SCHEMA {s} CASCADE; DROP OWNED BY {a}, {u}, {v}; DROP ROLE {a}; DROP ROLE {u}; DROP ROLE {v};",
                a = self.anon,
                u = self.authenticated,
                v = self.service
            ))
            .await
            .expect("drop scratch schema");
    }
}

/// A MariaDB database of its own.
pub struct MyScratch {
    pub conn: sqlx::MySqlConnection,
    pub database: String,
}

impl MyScratch {
    pub async fn new() -> MyScratch {
        use sqlx::Connection;
        let base = mysql_url();
        let mut admin = sqlx::MySqlConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach MariaDB/MySQL at `{base}` ({e}).\nStart it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\nor point EASBASE_MYSQL_URL at a server."
            )
        });
        let database = random_name("t");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        let _ = admin.close().await;
        let conn = sqlx::MySqlConnection::connect(&format!("{base}/{database}"))
            .await
            .expect("connect to scratch db");
        MyScratch { conn, database }
    }

    pub async fn drop(mut self) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {}", self.database)))
            .execute(&mut self.conn)
            .await
            .expect("drop database");
    }
}
