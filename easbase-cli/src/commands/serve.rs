//! `easbase serve`: provision (or reuse) the project of a schema and serve it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::serve::{self, AdoptProject, GivenKeys, KeyOptions, KeysFrom, Outcome, ServeProject};
use easbase_cli::{Error, Result, host};
use easbase_core::project::AdoptSchema;
use easbase_core::schema::Schema;

/// Where the served tables come from.
enum Source {
    /// A schema file (and its path).
    File(Schema, PathBuf),
    /// An existing PostgreSQL schema.
    Introspect(String),
}

/// Serve a schema's project: REST at /rest/v1, auth at /auth/v1.
///
/// Finds the project of the schema's name (creating it on the first start), migrates it
/// to the schema file (or, with --introspect, serves an existing PostgreSQL schema with
/// its own row-level security), and prints one JSON line on stdout when ready: url,
/// publishable_key, secret_key, jwt_secret, project_id. Progress goes to stderr. Stops on
/// Ctrl-C or SIGTERM.
///
/// A project that already exists is served with the keys of its keys file
/// (STATE_DIR/PROJECT_ID.keys.json, written when the project was created), or with
/// the keys given in EASBASE_PUBLISHABLE_KEY and EASBASE_SECRET_KEY (or the flags), which
/// are verified first. Without either, serve refuses rather than change keys other
/// servers use; --reissue-keys issues a new pair on purpose.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The platform database: postgres://USER@HOST/DB, mysql://USER@HOST/DB (feature
    /// `mysql`), sqlite://FILE or sqlite::memory:
    /// (default: the embedded file .easbase/easbase.db).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The schema file (.json or .toml).
    #[arg(long, value_name = "FILE", required_unless_present = "introspect", conflicts_with = "introspect")]
    schema: Option<PathBuf>,
    /// PostgreSQL: serve the existing tables of this schema as PostgREST does, with their
    /// own grants and row-level security, instead of a schema file.
    #[arg(long, value_name = "SCHEMA_NAME")]
    introspect: Option<String>,
    /// With --introspect: the role anonymous requests run as (created if missing;
    /// default anon).
    #[arg(long, value_name = "ROLE")]
    anon_role: Option<String>,
    /// With --introspect: the role signed-in users' requests run as (created if missing;
    /// default authenticated).
    #[arg(long, value_name = "ROLE")]
    authenticated_role: Option<String>,
    /// With --introspect: the role secret-key requests run as (created if missing;
    /// default service_role).
    #[arg(long, value_name = "ROLE")]
    service_role: Option<String>,
    /// Where to listen (port 0 picks a free port; the JSON line names it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The project's name, which is also how a restart finds it again (default: the
    /// schema file's name without extension, or the introspected schema's name).
    #[arg(long, value_name = "NAME")]
    project: Option<String>,
    /// Also expose a named schema (a profile clients choose with Accept-Profile /
    /// Content-Profile, supabase-js `db.schema`): NAME=FILE, repeatable. Migrated like
    /// --schema on every start.
    #[arg(long = "profile", value_name = "NAME=FILE", conflicts_with = "introspect")]
    profiles: Vec<String>,
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
    /// The existing project's publishable key (eb_pk_…), verified before serving; prefer
    /// the EASBASE_PUBLISHABLE_KEY environment variable (flags show in `ps`).
    #[arg(long, value_name = "KEY")]
    publishable_key: Option<String>,
    /// The existing project's secret key (eb_sk_…), verified before serving; prefer the
    /// EASBASE_SECRET_KEY environment variable (flags show in `ps`).
    #[arg(long, value_name = "KEY")]
    secret_key: Option<String>,
    /// Issue a new key pair for an existing project by rotating its keys (the keys file
    /// is rewritten); the old keys keep working for --grace. Use it once, not on every
    /// start.
    #[arg(long, conflicts_with_all = ["publishable_key", "secret_key"])]
    reissue_keys: bool,
    /// With --reissue-keys: seconds the old keys keep working (0: they stop at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, requires = "reissue_keys")]
    grace: u64,
}

/// The `--profile NAME=FILE` values, their files read.
fn named_profiles(values: &[String]) -> Result<Vec<(String, Schema)>> {
    values
        .iter()
        .map(|value| match value.split_once('=') {
            Some((name, file)) if !name.is_empty() && !file.is_empty() => {
                Ok((name.to_owned(), Schema::from_path(std::path::Path::new(file))?))
            }
            _ => Err(Error::Usage(format!("--profile {value}: give NAME=FILE"))),
        })
        .collect()
}

/// The keys given by flag or, failing that, environment variable: both or none.
fn given_keys(args: &ServeArgs) -> Result<Option<GivenKeys>> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let publishable = args.publishable_key.clone().or_else(|| from_env(serve::PUBLISHABLE_KEY_ENV));
    let secret = args.secret_key.clone().or_else(|| from_env(serve::SECRET_KEY_ENV));
    let (pk_env, sk_env) = (serve::PUBLISHABLE_KEY_ENV, serve::SECRET_KEY_ENV);
    match (publishable, secret) {
        (None, None) => Ok(None),
        (Some(_), _) | (_, Some(_)) if args.reissue_keys => Err(Error::Usage(format!(
            "--reissue-keys issues new keys: unset {pk_env} and {sk_env} (the keys given)"
        ))),
        (Some(publishable_key), Some(secret_key)) => Ok(Some(GivenKeys {
            publishable_key: publishable_key.trim().to_owned(),
            secret_key: secret_key.trim().to_owned(),
        })),
        (Some(_), None) => Err(Error::Usage(format!(
            "a publishable key was given but no secret key: give --secret-key or {sk_env} too"
        ))),
        (None, Some(_)) => Err(Error::Usage(format!(
            "a secret key was given but no publishable key: give --publishable-key or {pk_env} too"
        ))),
    }
}

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let url: DatabaseUrl = match &args.database_url {
        Some(u) => u.parse()?,
        None => DatabaseUrl::default(),
    };
    if args.introspect.is_none()
        && (args.anon_role.is_some() || args.authenticated_role.is_some() || args.service_role.is_some())
    {
        return Err(Error::Usage(
            "--anon-role, --authenticated-role and --service-role go with --introspect".into(),
        ));
    }
    let keys = KeyOptions {
        given: given_keys(&args)?,
        reissue: args.reissue_keys.then(|| Duration::from_secs(args.grace)),
    };
    let source = match (&args.schema, &args.introspect) {
        (Some(path), _) => Source::File(Schema::from_path(path)?, path.clone()),
        (None, Some(schema)) => Source::Introspect(schema.clone()),
        (None, None) => return Err(Error::Usage("give --schema FILE or --introspect SCHEMA_NAME".into())),
    };
    let name = match (args.project, &source) {
        (Some(name), _) => name,
        (None, Source::Introspect(schema)) => schema.clone(),
        (None, Source::File(_, path)) => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or_else(|| Error::Usage(format!("{}: name the project with --project", path.display())))?,
    };
    let profiles = named_profiles(&args.profiles)?;
    let state_dir = args.state_dir.clone().or_else(|| url.state_dir());
    let (listener, base_url) = host::bind(args.listen).await?;
    eprintln!("easbase: platform {url}");
    let platform = database::open_platform(&url, &base_url, Some(&args.platform_schema)).await?;
    let progress = &mut |line: &str| eprintln!("easbase: {line}");
    let provisioned = match source {
        Source::File(schema, _) => {
            let wanted = ServeProject {
                name,
                schema,
                allow_destructive: args.allow_destructive,
                state_dir: state_dir.clone(),
                keys,
            };
            serve::provision(&platform, &wanted, progress).await?
        }
        Source::Introspect(schema) => {
            if platform.db().dialect() != easbase_core::schema::Dialect::Postgres {
                return Err(Error::Usage(
                    "--introspect serves a PostgreSQL schema: give --database-url postgres://…".into(),
                ));
            }
            let defaults = AdoptSchema::new(schema);
            let adopt = AdoptSchema {
                anon_role: args.anon_role.unwrap_or(defaults.anon_role.clone()),
                authenticated_role: args.authenticated_role.unwrap_or(defaults.authenticated_role.clone()),
                service_role: args.service_role.unwrap_or(defaults.service_role.clone()),
                ..defaults
            };
            let wanted = AdoptProject { name, adopt, state_dir: state_dir.clone(), keys };
            serve::provision_adopted(&platform, &wanted, progress).await?
        }
    };
    match (&provisioned.outcome, &state_dir) {
        (Outcome::Created, Some(dir)) => {
            let file = serve::keys_path(dir, provisioned.project.id.as_str());
            eprintln!("easbase: keys saved to {}", file.display());
        }
        (Outcome::Reused, _) => eprintln!("easbase: the schema is up to date"),
        _ => {}
    }
    match provisioned.keys_from {
        KeysFrom::Given => eprintln!("easbase: serving with the keys given (verified)"),
        KeysFrom::Reissued => {
            if let Some(dir) = &state_dir {
                let file = serve::keys_path(dir, provisioned.project.id.as_str());
                eprintln!("easbase: new keys saved to {}", file.display());
            }
        }
        _ => {}
    }
    for (name, schema) in &profiles {
        // The version is the description's checksum: the same file again changes nothing.
        let version = easbase_schema::migrate::checksum(&schema.to_json())[..16].to_owned();
        let id = &provisioned.project.id;
        let report = platform.apply_schema_named(id, name, &version, schema, args.allow_destructive).await?;
        if !report.already_applied {
            eprintln!("easbase: profile `{name}` migrated ({} steps)", report.plan.steps.len());
        }
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
