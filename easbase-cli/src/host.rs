//! The host: REST at `/rest/v1` and auth at `/auth/v1` over a platform, the way
//! `easbase serve`, the quickstart and the server examples mount them.
//!
//! - [`Services`]: the REST and auth services of a platform (auth tables hidden from
//!   REST), for any HTTP framework: both have a neutral
//!   `handle(http::Request<Bytes>) -> http::Response<Bytes>` (the actix example uses it).
//! - [`router`]: the same as an axum `Router` with permissive CORS (browsers on another
//!   origin; every header exposed, supabase-js reads `Content-Range`).
//! - [`Running`]: a router served on a listener in this process, stopped by
//!   [`Running::stop`] or by Ctrl-C / SIGTERM ([`shutdown_signal`]).
//! - [`Ready`]: the one JSON line a server prints on stdout when it is ready.
//!
//! [`Services::new`] also starts usage metering and request logs
//! ([`Platform::start_metering`]) when the platform holds their tables
//! ([`open_platform`](crate::database::open_platform) adds them): every REST and auth
//! request is then counted per project, route and status and logged without secrets,
//! queryable with `easbase_core::usage::{series, totals}` and `easbase_core::logs::query`.

use std::net::SocketAddr;
use std::sync::Arc;

use easbase_auth::{Auth, AuthConfig, AuthModule, AuthService};
use easbase_core::logs::LogConfig;
use easbase_core::project::Platform;
use easbase_core::usage::UsageConfig;
use easbase_rest::{RestConfig, RestService};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// Where the REST service is mounted.
pub const REST_PATH: &str = "/rest/v1";
/// Where the auth service is mounted.
pub const AUTH_PATH: &str = "/auth/v1";

/// The auth settings of a development host: email + password sign-up with
/// auto-confirmation (there is no mailer yet), anonymous sign-ins as given.
pub fn dev_auth_config(anonymous: bool) -> AuthConfig {
    AuthConfig {
        autoconfirm: true,
        email_enabled: true,
        anonymous_enabled: anonymous,
        ..AuthConfig::new("http://localhost:3000")
    }
}

/// The REST and auth services of one platform.
#[derive(Debug, Clone)]
pub struct Services {
    /// PostgREST's dialect, for `/rest/v1`.
    pub rest: RestService,
    /// GoTrue's routes, for `/auth/v1`.
    pub auth: AuthService,
}

impl Services {
    /// The services of `platform` with `auth`'s settings. The auth tables live beside
    /// the project's tables: REST never serves them. Starts the platform's default usage
    /// and log sinks ([`Platform::start_metering`]) unless sinks are already set; call it
    /// inside the runtime that serves the requests.
    ///
    /// # Errors
    /// [`Error::Auth`] when the password-hash settings are invalid; [`Error::Core`]
    /// outside a tokio runtime.
    pub fn new(platform: &Platform, auth: AuthConfig) -> Result<Services> {
        if platform.usage_sink().is_none() && platform.log_sink().is_none() {
            platform.start_metering(UsageConfig::default(), LogConfig::default())?;
        }
        let auth = AuthService::new(platform.clone(), Arc::new(Auth::new(auth, None)?));
        let rest_config = RestConfig {
            hidden_tables: AuthModule::TABLES.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        };
        Ok(Services { rest: RestService::new(platform.clone(), rest_config), auth })
    }
}

/// The axum router: REST at [`REST_PATH`], auth at [`AUTH_PATH`], permissive CORS.
pub fn router(services: Services) -> axum::Router {
    axum::Router::new()
        .nest_service(REST_PATH, services.rest)
        .nest_service(AUTH_PATH, services.auth)
        .layer(tower_http::cors::CorsLayer::permissive())
}

/// Binds `addr` (port 0 picks a free port) and returns the listener with its base URL
/// (`http://127.0.0.1:PORT`).
///
/// # Errors
/// [`Error::Usage`] when the address cannot be bound (in use, not local).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, String)> {
    let listener =
        TcpListener::bind(addr).await.map_err(|e| Error::Usage(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::Usage(format!("cannot listen on {addr}: {e}")))?;
    Ok((listener, format!("http://{local}")))
}

/// A router served in this process.
#[derive(Debug)]
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serves `router` on `listener` in a task of the current runtime until
    /// [`Running::stop`].
    pub fn spawn(listener: TcpListener, router: axum::Router) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Running { stop: Some(stop), task }
    }

    /// Stops accepting connections, lets the open ones finish, and waits.
    ///
    /// # Errors
    /// [`Error::Http`] when the server failed.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result.map_err(|e| Error::Http(e.to_string())),
            Err(e) => Err(Error::Http(format!("the server task failed: {e}"))),
        }
    }
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM, then lets open requests finish.
///
/// # Errors
/// [`Error::Http`] when the server fails.
pub async fn serve_until_signal(listener: TcpListener, router: axum::Router) -> Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::Http(e.to_string()))
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
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

/// The line a server prints on stdout when it is ready, for scripts and test harnesses:
///
/// ```text
/// {"url":"http://127.0.0.1:8080","publishable_key":"eb_pk_…","secret_key":"eb_sk_…","jwt_secret":"…","project_id":"…"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// The base URL: REST is at `{url}/rest/v1`, auth at `{url}/auth/v1`.
    pub url: String,
    /// The project's publishable key (`eb_pk_…`, requests act as `anon`).
    pub publishable_key: String,
    /// The project's secret key (`eb_sk_…`, requests act as the service role).
    pub secret_key: String,
    /// The HS256 secret the project's access tokens are signed with.
    pub jwt_secret: String,
    /// The project's id.
    pub project_id: String,
}

impl Ready {
    /// Prints the line on stdout and flushes it.
    ///
    /// # Errors
    /// [`Error::Io`] when stdout is closed.
    pub fn print(&self) -> Result<()> {
        use std::io::Write;
        let line = serde_json::to_string(self).map_err(|e| Error::io("stdout", std::io::Error::other(e)))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| Error::io("stdout", e))
    }
}
