//! An axum server that mounts EasBase's REST service at `/rest/v1` and its auth service at
//! `/auth/v1`, so `createClient(url, publishable_key)` from `@supabase/supabase-js` just
//! works against it.
//!
//! ```text
//! cargo run -p example-axum-server -- --listen 127.0.0.1:8080
//! ```
//!
//! It opens a platform on an in-memory SQLite database (or on the database `DATABASE_URL`
//! names: `postgres://…` with the `postgres` feature, on by default, `mysql://…` with the
//! `mysql` feature, or `sqlite://FILE`),
//! creates one project with the schema file given by `--schema` (default: `todos`,
//! `profiles`, `projects` and `tasks`, rows owned through `auth.uid`), turns on email +
//! password sign-up with auto-confirmation and anonymous sign-ins, and prints one JSON
//! line on stdout when it is ready (easbase-cli's [`Ready`]):
//!
//! ```text
//! {"url":"http://127.0.0.1:8080","publishable_key":"eb_pk_…","secret_key":"eb_sk_…","jwt_secret":"…","project_id":"…"}
//! ```
//!
//! `--mail-dir DIR` writes every auth email and SMS (confirmation, magic link, recovery,
//! codes) as a JSON file in `DIR` and turns on phone sign-in; `--confirm-email` turns
//! auto-confirmation off, so sign-ups wait for the emailed link or code (tests/js/auth.test.mjs).
//!
//! `--throwaway` (for tests against a database server, tests/js): on PostgreSQL the
//! platform tables go in a new schema `easbase_js_<random>`, on MariaDB/MySQL in a new
//! database `easbase_js_<random>` (`DATABASE_URL` names the server; its database part is
//! replaced); on Ctrl-C or SIGTERM the project is deleted (its schema and its three roles,
//! or its database) and that schema or database dropped with everything in it, so a run
//! leaves nothing behind. Without it, every run adds a project to the platform (on
//! PostgreSQL in the schema `easbase`).
//!
//! Any origin may call it (permissive CORS, for a front end on another port). Then it
//! serves until Ctrl-C or SIGTERM. `--listen 127.0.0.1:0` picks a free port (the
//! JSON line names it). Every run starts a new project: its keys are only shown here.
//!
//! The REST and auth services, the router and the ready line come from
//! [`easbase_cli::host`] (what `easbase serve` and the other examples use); the auth
//! service is configured here for the mail outbox, OAuth and the external URL.

use std::error::Error;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

mod outbox;

use easbase_auth::keys::{KeyAlgorithm, SigningKeys};
use easbase_auth::mail::MailSettings;
use easbase_auth::oauth::{HyperClient, OAuthSettings, ProviderConfig};
use easbase_auth::{Auth, AuthConfig, AuthService, AuthServiceConfig, SmsSettings};
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::host::{self, Ready, Services};
use easbase_core::db::Db;
use easbase_core::project::{CreateProject, Platform, PlatformConfig, Project};
use easbase_core::schema::{Ident, Schema};

const DEFAULT_SCHEMA: &str = include_str!("../schema.json");

const USAGE: &str = "usage: example-axum-server [--listen ADDR] [--schema FILE] [--throwaway] [...]

  --listen ADDR   where to listen (default 127.0.0.1:8080; port 0 picks a free one)
  --schema FILE   the project's schema (JSON or TOML; default: todos, profiles,
                  projects and tasks)
  --mail-dir DIR  write every auth email and SMS as a JSON file in DIR (and turn on
                  phone sign-in with codes sent there)
  --confirm-email sign-ups wait for the emailed confirmation (no auto-confirmation)
  --oauth-oidc NAME=URL
                  an OpenID Connect provider NAME with its endpoints at URL/authorize,
                  URL/token and URL/userinfo (client `example-client`, secret
                  `example-secret`; plain http only), for /authorize?provider=NAME
  --signing-key es256
                  sign access tokens with a new ES256 key (its public key served at
                  /auth/v1/.well-known/jwks.json) instead of the HS256 secret
  --throwaway     leave nothing behind (tests): the platform tables go in a new schema
                  (PostgreSQL) or database (MariaDB/MySQL) easbase_js_<random>, and on
                  Ctrl-C or SIGTERM the project (its schema and roles, or its database)
                  is deleted and that schema or database dropped; with the in-memory
                  SQLite default there is nothing to clean

DATABASE_URL: the platform database: postgres://USER@HOST/DB (the `postgres` feature, on
by default), mysql://USER@HOST[/DB] (the `mysql` feature) or sqlite://FILE; unset: an
in-memory SQLite database.";

/// The prefix of a throw-away platform schema or database (`--throwaway`).
const THROWAWAY_PREFIX: &str = "easbase_js_";

struct Args {
    listen: SocketAddr,
    schema: Option<String>,
    mail_dir: Option<std::path::PathBuf>,
    confirm_email: bool,
    oauth_oidc: Vec<(String, String)>,
    es256: bool,
    throwaway: bool,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        schema: None,
        mail_dir: None,
        confirm_email: false,
        oauth_oidc: Vec::new(),
        es256: false,
        throwaway: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                args.listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--schema" => args.schema = Some(value("--schema")?),
            "--mail-dir" => args.mail_dir = Some(value("--mail-dir")?.into()),
            "--confirm-email" => args.confirm_email = true,
            "--throwaway" => args.throwaway = true,
            "--signing-key" => match value("--signing-key")?.as_str() {
                "es256" => args.es256 = true,
                other => return Err(format!("--signing-key {other}: only `es256` is generated")),
            },
            "--oauth-oidc" => {
                let v = value("--oauth-oidc")?;
                let (name, url) =
                    v.split_once('=').ok_or_else(|| format!("--oauth-oidc {v}: expected NAME=URL"))?;
                args.oauth_oidc.push((name.to_owned(), url.trim_end_matches('/').to_owned()));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(args)
}

/// The platform database: `DATABASE_URL`, or an in-memory SQLite database.
fn database_url() -> Result<DatabaseUrl, String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url.parse().map_err(|e| format!("DATABASE_URL: {e}")),
        _ => Ok(DatabaseUrl::SqliteMemory),
    }
}

/// A new name `easbase_js_<16 hex digits>`: random per process (std's hasher keys come
/// from the OS), with the process id and the time mixed in.
fn throwaway_name() -> Ident {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    let name = format!("{THROWAWAY_PREFIX}{:016x}", hasher.finish());
    Ident::new(name).unwrap_or_else(|_| unreachable!("a prefix and hex digits make a valid name"))
}

/// Where a throw-away platform (`--throwaway`) lives, and how it goes.
enum Throwaway {
    /// PostgreSQL: the schema of the platform tables, in the database of `DATABASE_URL`.
    Schema(Ident),
    /// MySQL / MariaDB: a database of its own on the server of `DATABASE_URL`, made and
    /// dropped through a handle on the server.
    Database { name: Ident, server: Db },
}

impl Throwaway {
    /// Makes the platform's place (a MySQL database; a PostgreSQL schema is made by
    /// `Platform::open`) and points `database` at it. `None` when there is nothing to
    /// clean (SQLite).
    async fn make(database: &mut DatabaseUrl) -> Result<Option<Throwaway>, Box<dyn Error>> {
        match database {
            DatabaseUrl::Postgres(_) => Ok(Some(Throwaway::Schema(throwaway_name()))),
            DatabaseUrl::Mysql(url) => {
                let name = throwaway_name();
                let server = DatabaseUrl::Mysql(mysql_url_with(url, None)).open().await?;
                server.execute_script(&[format!("CREATE DATABASE `{}`", name.as_str())]).await?;
                *url = mysql_url_with(url, Some(name.as_str()));
                Ok(Some(Throwaway::Database { name, server }))
            }
            // Nothing to clean in memory; a SQLite file is refused before.
            DatabaseUrl::SqliteMemory | DatabaseUrl::SqliteFile(_) => Ok(None),
        }
    }

    /// Drops the schema (with everything in it) through the platform's database `platform_db`,
    /// or the database through the server handle. The names are generated (a prefix and hex
    /// digits), never caller input.
    async fn drop(&self, platform_db: Option<&Db>) -> easbase_core::Result<()> {
        match (self, platform_db) {
            (Throwaway::Schema(name), Some(db)) => {
                db.execute_script(&[format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", name.as_str())]).await
            }
            (Throwaway::Schema(_), None) => Ok(()),
            (Throwaway::Database { name, server }, _) => {
                server.execute_script(&[format!("DROP DATABASE IF EXISTS `{}`", name.as_str())]).await
            }
        }
    }

    /// What is thrown away, for messages.
    fn describe(&self) -> String {
        match self {
            Throwaway::Schema(name) => format!("platform schema {name}"),
            Throwaway::Database { name, .. } => format!("platform database {name}"),
        }
    }
}

/// A MySQL URL with its database replaced by `name` (`None`: the server, no database).
fn mysql_url_with(url: &str, name: Option<&str>) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    let mut out = base[..path].to_owned();
    if let Some(name) = name {
        out.push('/');
        out.push_str(name);
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Puts the connection's peer address into the request for easbase-auth's per-IP limits.
async fn client_ip(
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    mut request: axum::extract::Request,
) -> axum::extract::Request {
    request.extensions_mut().insert(easbase_auth::ClientIp(peer.ip()));
    request
}

/// Resolves on Ctrl-C or SIGTERM; the handlers are installed when it is called (not when
/// first polled, as with easbase-cli's `host::shutdown_signal`).
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("example-axum-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let (args, mut database) = match args().and_then(|a| database_url().map(|d| (a, d))) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if args.throwaway && matches!(database, DatabaseUrl::SqliteFile(_)) {
        eprintln!(
            "--throwaway: DATABASE_URL names a SQLite file, which would stay: unset it (in-memory SQLite)"
        );
        std::process::exit(2);
    }
    let schema = match &args.schema {
        Some(path) => Schema::from_path(path)?,
        None => Schema::from_json(DEFAULT_SCHEMA)?,
    };
    // Listening for Ctrl-C and SIGTERM from here on: a stop asked for while the platform and
    // the project are being made waits for them, then gets the graceful shutdown and the
    // clean-up like any other.
    let stop = shutdown_signal()?;
    let (listener, url) = host::bind(args.listen).await?;
    let throwaway = if args.throwaway { Throwaway::make(&mut database).await? } else { None };
    // What easbase-cli's `open_platform` does, with the platform's handle kept so that a
    // throw-away schema or database is dropped even when the platform cannot be opened.
    let mut config = PlatformConfig {
        data_dir: database.projects_dir(),
        api_url_template: "{base_url}".into(),
        ..PlatformConfig::new(&url)
    };
    if let Some(Throwaway::Schema(name)) = &throwaway {
        config.platform_schema = name.clone();
    }
    let opened = match database.open().await {
        Ok(db) => {
            Platform::open(db.clone(), config, database::modules()).await.map_err(|e| (e.into(), Some(db)))
        }
        Err(e) => Err((e.into(), None)),
    };
    let platform = match opened {
        Ok(platform) => platform,
        Err((e, db)) => {
            if let Some(throwaway) = &throwaway {
                // No platform database: the schema was never made (a MySQL database was).
                let dropped = throwaway.drop(db.as_ref()).await;
                if let Err(drop) = dropped {
                    eprintln!("example-axum-server: cannot drop the {}: {drop}", throwaway.describe());
                }
            }
            return Err(e);
        }
    };
    if let Some(throwaway) = &throwaway {
        eprintln!("example-axum-server: throw-away {} (dropped on Ctrl-C or SIGTERM)", throwaway.describe());
    }

    let mut project = None;
    let served = serve(&platform, &args, schema, listener, url, stop, &mut project).await;
    let cleaned = match &throwaway {
        Some(throwaway) => clean_up(&platform, project.as_ref(), throwaway).await,
        None => Ok(()),
    };
    if let (Err(_), Err(e)) = (&served, &cleaned) {
        eprintln!("example-axum-server: the clean-up failed too: {e}");
    }
    served?;
    cleaned
}

/// `--throwaway`: deletes the project (its schema and roles, or its database; its platform
/// rows) and drops the platform schema or database. Metering is written and stopped
/// first: nothing is recorded into the platform tables once they are gone.
async fn clean_up(
    platform: &Platform,
    project: Option<&Project>,
    throwaway: &Throwaway,
) -> Result<(), Box<dyn Error>> {
    let flushed = platform.flush_metering().await;
    platform.clear_metering();
    if let Err(e) = flushed {
        eprintln!("example-axum-server: the last usage counts and logs were not written: {e}");
    }
    // The platform goes even when the project could not be deleted (then its error is told).
    let deleted = match project {
        Some(project) => platform.delete_project(&project.id, &project.slug).await,
        None => Ok(()),
    };
    throwaway.drop(Some(platform.db())).await?;
    deleted?;
    eprintln!("example-axum-server: dropped the project and the {}", throwaway.describe());
    Ok(())
}

/// Creates the project (set in `project` at once, for the clean-up), prints the ready line
/// and serves until `stop` (Ctrl-C or SIGTERM).
async fn serve(
    platform: &Platform,
    args: &Args,
    schema: Schema,
    listener: tokio::net::TcpListener,
    url: String,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    project: &mut Option<Project>,
) -> Result<(), Box<dyn Error>> {
    let created = platform
        .create_project(
            "example",
            "axum example",
            CreateProject { schema: Some(schema), ..Default::default() },
        )
        .await?;
    *project = Some(created.project.clone());
    let keys = created.keys.ok_or("a new project shows its keys")?;
    let jwt_secret = platform.jwt_secret(&created.project.id).await?;
    if args.es256 {
        let keys = SigningKeys::new(platform);
        let key = keys.generate(&created.project.id, KeyAlgorithm::Es256).await?;
        keys.activate(&created.project.id, &key.kid).await?;
    }

    let auth_config = AuthConfig {
        autoconfirm: !args.confirm_email,
        anonymous_enabled: true,
        phone_enabled: args.mail_dir.is_some(),
        ..AuthConfig::new("http://localhost:3000")
    };
    let mut service_config =
        AuthServiceConfig { external_url: Some(format!("{url}/auth/v1")), ..AuthServiceConfig::default() };
    if let Some(dir) = &args.mail_dir {
        let outbox = Arc::new(outbox::DirOutbox::new(dir.clone())?);
        service_config.mail = Some(MailSettings::new(outbox.clone(), "EasBase example <auth@localhost>"));
        service_config.sms = Some(SmsSettings::new(outbox));
    }
    if !args.oauth_oidc.is_empty() {
        let mut oauth = OAuthSettings::new(Arc::new(HyperClient::new()));
        for (name, url) in &args.oauth_oidc {
            let endpoints = [format!("{url}/authorize"), format!("{url}/token"), format!("{url}/userinfo")];
            let endpoints = [endpoints[0].as_str(), endpoints[1].as_str(), endpoints[2].as_str()];
            oauth = oauth.with_provider(ProviderConfig::oidc(
                name,
                url,
                endpoints,
                "example-client",
                "example-secret",
            ));
        }
        // A browser opening /authorize sends no API key: this server has one project.
        oauth.default_project = Some(created.project.id.clone());
        service_config.oauth = Some(Arc::new(oauth));
    }
    // The host's services (auth tables hidden from REST, usage counters and request logs
    // recorded), with the auth service configured for this example's outbox and OAuth.
    let mut services = Services::new(platform, auth_config.clone())?;
    services.auth =
        AuthService::with_config(platform.clone(), Arc::new(Auth::new(auth_config, None)?), service_config);
    // The auth service limits some routes per client IP: tell it the peer's address.
    let app = host::router(services).layer(axum::middleware::map_request(client_ip));

    Ready {
        url,
        publishable_key: keys.publishable.secret,
        secret_key: keys.secret.secret,
        jwt_secret,
        project_id: created.project.id.to_string(),
    }
    .print()?;

    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stop)
        .await?;
    Ok(())
}
