//! An axum server that mounts EasBase's REST service at `/rest/v1` and its auth service at
//! `/auth/v1`, so `createClient(url, publishable_key)` from `@supabase/supabase-js` just
//! works against it.
//!
//! ```text
//! cargo run -p example-axum-server -- --listen 127.0.0.1:8080
//! ```
//!
//! It opens a platform on an in-memory SQLite database (or on PostgreSQL when
//! `DATABASE_URL` is a `postgres://` URL and the `postgres` feature is on), creates one
//! project with the schema file given by `--schema` (default: `todos` and `profiles`,
//! rows owned through `auth.uid`), turns on email + password sign-up with auto-confirmation
//! and anonymous sign-ins, and prints one JSON line on stdout when it is ready:
//!
//! ```text
//! {"url":"http://127.0.0.1:8080","publishable_key":"eb_pk_…","secret_key":"eb_sk_…","jwt_secret":"…"}
//! ```
//!
//! `--mail-dir DIR` writes every auth email and SMS (confirmation, magic link, recovery,
//! codes) as a JSON file in `DIR` and turns on phone sign-in; `--confirm-email` turns
//! auto-confirmation off, so sign-ups wait for the emailed link or code (tests/js/auth.test.mjs).
//!
//! Any origin may call it (permissive CORS, for a front end on another port). Then it
//! serves until Ctrl-C or SIGTERM. `--listen 127.0.0.1:0` picks a free port (the
//! JSON line names it). Every run starts a new project: its keys are only shown here.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

mod outbox;

use easbase_auth::keys::{KeyAlgorithm, SigningKeys};
use easbase_auth::mail::MailSettings;
use easbase_auth::oauth::{HyperClient, OAuthSettings, ProviderConfig};
use easbase_auth::{Auth, AuthConfig, AuthModule, AuthService, AuthServiceConfig, SmsSettings};
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::logs::{LogConfig, LogsModule};
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Schema;
use easbase_core::usage::{UsageConfig, UsageModule};
use easbase_rest::{RestConfig, RestService};

const DEFAULT_SCHEMA: &str = include_str!("../schema.json");

const USAGE: &str = "usage: example-axum-server [--listen ADDR] [--schema FILE]

  --listen ADDR   where to listen (default 127.0.0.1:8080; port 0 picks a free one)
  --schema FILE   the project's schema (JSON or TOML; default: todos and profiles)
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

DATABASE_URL: a postgres:// URL (with the `postgres` feature) instead of in-memory SQLite.";

struct Args {
    listen: SocketAddr,
    schema: Option<String>,
    mail_dir: Option<std::path::PathBuf>,
    confirm_email: bool,
    oauth_oidc: Vec<(String, String)>,
    es256: bool,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        schema: None,
        mail_dir: None,
        confirm_email: false,
        oauth_oidc: Vec::new(),
        es256: false,
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

async fn open_db() -> Result<Db, Box<dyn Error>> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            #[cfg(feature = "postgres")]
            return Ok(Db::connect_postgres(easbase_core::db::PgConfig::new(url)).await?);
            #[cfg(not(feature = "postgres"))]
            return Err(
                "DATABASE_URL is a PostgreSQL URL: run with `--features postgres` (or unset it for SQLite)"
                    .into(),
            );
        }
        _ => Ok(Db::open_sqlite(SqliteConfig::in_memory())?),
    }
}

/// Puts the connection's peer address into the request for easbase-auth's per-IP limits.
async fn client_ip(
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    mut request: axum::extract::Request,
) -> axum::extract::Request {
    request.extensions_mut().insert(easbase_auth::ClientIp(peer.ip()));
    request
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let schema = match &args.schema {
        Some(path) => Schema::from_path(path)?,
        None => Schema::from_json(DEFAULT_SCHEMA)?,
    };

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);

    // Usage counters and request logs are platform tables; the batching sinks record
    // every request of REST and auth without a row written per request.
    let modules: Vec<Arc<dyn easbase_core::module::Module>> =
        vec![Arc::new(AuthModule::default()), Arc::new(UsageModule), Arc::new(LogsModule)];
    let platform = Platform::open(open_db().await?, PlatformConfig::new(&url), modules).await?;
    platform.start_metering(UsageConfig::default(), LogConfig::default())?;
    let created = platform
        .create_project(
            "example",
            "axum example",
            CreateProject { schema: Some(schema), ..Default::default() },
        )
        .await?;
    let keys = created.keys.ok_or("a new project shows its keys")?;
    let jwt_secret = platform.jwt_secret(&created.project.id).await?;
    if args.es256 {
        let keys = SigningKeys::new(&platform);
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
    let auth =
        AuthService::with_config(platform.clone(), Arc::new(Auth::new(auth_config, None)?), service_config);
    // The auth tables live beside the project's tables: never serve them over REST.
    let rest_config = RestConfig {
        hidden_tables: AuthModule::TABLES.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    };
    let rest = RestService::new(platform, rest_config);

    // Browsers call from another origin: answer CORS preflights and expose every header
    // (supabase-js reads `Content-Range` for counts).
    let app = axum::Router::new()
        .nest_service("/rest/v1", rest)
        .nest_service("/auth/v1", auth)
        // The auth service limits some routes per client IP: tell it the peer's address.
        .layer(axum::middleware::map_request(client_ip))
        .layer(tower_http::cors::CorsLayer::permissive());

    let ready = serde_json::json!({
        "url": url,
        "publishable_key": keys.publishable.secret,
        "secret_key": keys.secret.secret,
        "jwt_secret": jwt_secret,
    });
    println!("{ready}");
    std::io::Write::flush(&mut std::io::stdout())?;

    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}
