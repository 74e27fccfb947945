//! `easbase serve`: provision (or reuse) the project of a schema and serve it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::serve::{self, Outcome, ServeProject};
use easbase_cli::{Error, Result, host};
use easbase_core::schema::Schema;

/// Serve a schema's project: REST at /rest/v1, auth at /auth/v1.
///
/// Finds the project of the schema's name (creating it on the first start), migrates it
/// to the schema file, and prints one JSON line on stdout when ready: url,
/// publishable_key, secret_key, jwt_secret, project_id. Progress goes to stderr. Stops on
/// Ctrl-C or SIGTERM.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The platform database: postgres://USER@HOST/DB, sqlite://FILE or sqlite::memory:
    /// (default: the embedded file .easbase/easbase.db).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The schema file (.json or .toml).
    #[arg(long, value_name = "FILE")]
    schema: PathBuf,
    /// Where to listen (port 0 picks a free port; the JSON line names it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The project's name, which is also how a restart finds it again (default: the
    /// schema file's name without extension).
    #[arg(long, value_name = "NAME")]
    project: Option<String>,
    /// Apply schema changes that lose data (dropped tables or columns, narrowed types).
    #[arg(long)]
    allow_destructive: bool,
    /// Allow anonymous sign-ins (POST /auth/v1/signup without email and password).
    #[arg(long)]
    anonymous: bool,
    /// Where the project's keys file is kept (default: beside a SQLite file, else .easbase/).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// PostgreSQL: the schema holding the platform tables.
    #[arg(long, value_name = "NAME", default_value = "easbase")]
    platform_schema: String,
}

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let url: DatabaseUrl = match &args.database_url {
        Some(u) => u.parse()?,
        None => DatabaseUrl::default(),
    };
    let schema = Schema::from_path(&args.schema)?;
    let name = match args.project {
        Some(name) => name,
        None => args.schema.file_stem().map(|s| s.to_string_lossy().into_owned()).ok_or_else(|| {
            Error::Usage(format!("{}: name the project with --project", args.schema.display()))
        })?,
    };
    let (listener, base_url) = host::bind(args.listen).await?;
    eprintln!("easbase: platform {url}");
    let platform = database::open_platform(&url, &base_url, Some(&args.platform_schema)).await?;
    let wanted = ServeProject {
        name,
        schema,
        allow_destructive: args.allow_destructive,
        state_dir: args.state_dir.or_else(|| url.state_dir()),
    };
    let provisioned = serve::provision(&platform, &wanted, &mut |line| eprintln!("easbase: {line}")).await?;
    match (&provisioned.outcome, &wanted.state_dir) {
        (Outcome::Created, Some(dir)) => {
            let file = serve::keys_path(dir, provisioned.project.id.as_str());
            eprintln!("easbase: keys saved to {}", file.display());
        }
        (Outcome::Reused, _) => eprintln!("easbase: the schema is up to date"),
        _ => {}
    }
    let services = host::Services::new(&platform, host::dev_auth_config(args.anonymous))?;
    host::Ready {
        url: base_url.clone(),
        publishable_key: provisioned.keys.publishable_key,
        secret_key: provisioned.keys.secret_key,
        jwt_secret: provisioned.jwt_secret,
        project_id: provisioned.project.id.to_string(),
    }
    .print()?;
    eprintln!("easbase: serving {base_url}/rest/v1 and {base_url}/auth/v1 (Ctrl-C stops)");
    host::serve_until_signal(listener, host::router(services)).await
}
