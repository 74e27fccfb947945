//! `easbase project create | list | keys | pause | resume | delete`: projects on a platform
//! database.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand, ValueEnum};
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::{Error, Result};
use easbase_core::context::ProjectId;
use easbase_core::keys::{KeyKind, StoredKey};
use easbase_core::project::{CreateProject, Isolation, Platform, Project};
use easbase_core::schema::Schema;
use serde_json::json;

/// The platform database and how to print.
#[derive(Debug, Args)]
pub(crate) struct PlatformArgs {
    /// The platform database: postgres://USER@HOST/DB, mysql://USER@HOST/DB (feature
    /// `mysql`), sqlite://FILE or sqlite::memory:
    /// (default: the embedded file .easbase/easbase.db).
    #[arg(long, value_name = "URL", global = true)]
    database_url: Option<String>,
    /// The base URL projects are served at (what `serve` would listen on).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080", global = true)]
    api_url: String,
    /// PostgreSQL: the schema holding the platform tables.
    #[arg(long, value_name = "NAME", default_value = "easbase", global = true)]
    platform_schema: String,
    /// Print JSON (one document) instead of text, for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl PlatformArgs {
    pub(crate) async fn open(&self) -> Result<Platform> {
        let url: DatabaseUrl = match &self.database_url {
            Some(u) => u.parse()?,
            None => DatabaseUrl::default(),
        };
        database::open_platform(&url, &self.api_url, Some(&self.platform_schema)).await
    }
}

/// Create, list and inspect projects.
#[derive(Debug, Subcommand)]
pub(crate) enum ProjectCommand {
    /// Create a project; its keys are printed once.
    Create {
        /// The project's name (1 to 100 characters).
        name: String,
        /// Its first schema (.json or .toml).
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// Where its tables live.
        #[arg(long, value_enum, default_value = "shared")]
        isolation: IsolationArg,
        /// Who owns it.
        #[arg(long, default_value = "cli")]
        owner: String,
    },
    /// List projects, oldest first.
    List {
        /// Only this owner's projects.
        #[arg(long)]
        owner: Option<String>,
    },
    /// List a project's keys (ids and state; secrets are never stored), or rotate or
    /// revoke one.
    Keys {
        /// The project's id or slug.
        project: String,
        /// Issue a new key of the same kind; the old one keeps working for --grace.
        #[arg(long, value_name = "KEY_ID", conflicts_with = "revoke")]
        rotate: Option<String>,
        /// Seconds the rotated key keeps working.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600, requires = "rotate")]
        grace: u64,
        /// Refuse this key at once.
        #[arg(long, value_name = "KEY_ID")]
        revoke: Option<String>,
    },
    /// Pause a ready project: its keys are refused (REST 503 `EB302`) by every server of
    /// the platform until it is resumed; its data is kept.
    Pause {
        /// The project's id or slug.
        project: String,
    },
    /// Resume a paused project: its keys work again.
    Resume {
        /// The project's id or slug.
        project: String,
    },
    /// Delete a project and all its data (its tables, roles or database files).
    Delete {
        /// The project's id or slug.
        project: String,
        /// The project's slug, to confirm.
        #[arg(long, value_name = "SLUG")]
        confirm: String,
    },
}

/// `--isolation`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum IsolationArg {
    /// PostgreSQL: a schema in the platform database; SQLite: a file.
    Shared,
    /// PostgreSQL: a database of its own; SQLite: a file.
    Dedicated,
}

pub(crate) async fn run(command: ProjectCommand, args: PlatformArgs) -> Result<()> {
    let platform = args.open().await?;
    match command {
        ProjectCommand::Create { name, schema, isolation, owner } => {
            let schema = schema.map(Schema::from_path).transpose()?;
            if let Some(schema) = &schema {
                easbase_cli::migrate::check(schema, platform.db().dialect())?;
            }
            let isolation = match isolation {
                IsolationArg::Shared => Isolation::Shared,
                IsolationArg::Dedicated => Isolation::Dedicated,
            };
            let created = platform
                .create_project(&owner, &name, CreateProject { schema, isolation, ..Default::default() })
                .await?;
            let keys = created.keys.ok_or_else(|| Error::Refused("the new project has no keys".into()))?;
            let jwt_secret = platform.jwt_secret(&created.project.id).await?;
            if args.json {
                let mut doc = project_json(&created.project);
                doc["publishable_key"] = keys.publishable.secret.into();
                doc["secret_key"] = keys.secret.secret.into();
                doc["jwt_secret"] = jwt_secret.into();
                println!("{doc:#}");
            } else {
                print_project(&created.project);
                println!("publishable key  {}", keys.publishable.secret);
                println!("secret key       {}", keys.secret.secret);
                println!("jwt secret       {jwt_secret}");
                println!("(the keys are shown once: store them now)");
            }
        }
        ProjectCommand::List { owner } => {
            let projects = platform.projects(owner.as_deref()).await?;
            if args.json {
                println!("{:#}", serde_json::Value::Array(projects.iter().map(project_json).collect()));
            } else if projects.is_empty() {
                println!("no projects");
            } else {
                println!("{:<34} {:<40} {:<10} {:<10} name", "id", "slug", "status", "isolation");
                for p in &projects {
                    println!(
                        "{:<34} {:<40} {:<10} {:<10} {}",
                        p.id,
                        p.slug,
                        p.status.as_str(),
                        p.isolation.as_str(),
                        p.name
                    );
                }
            }
        }
        ProjectCommand::Pause { project } => {
            let project = find(&platform, &project).await?;
            let paused = platform.pause_project(&project.id).await.map_err(|e| status_refusal(e, "pause"))?;
            print_status_change(&paused, "paused", args.json);
        }
        ProjectCommand::Resume { project } => {
            let project = find(&platform, &project).await?;
            let resumed =
                platform.resume_project(&project.id).await.map_err(|e| status_refusal(e, "resume"))?;
            print_status_change(&resumed, "resumed", args.json);
        }
        ProjectCommand::Delete { project, confirm } => {
            let project = find(&platform, &project).await?;
            platform.delete_project(&project.id, &confirm).await.map_err(|e| match e {
                easbase_core::Error::Guard(_) => Error::Refused(format!(
                    "--confirm must be the project's slug `{}` to delete it",
                    project.slug
                )),
                other => other.into(),
            })?;
            if args.json {
                println!("{:#}", json!({ "deleted": project.id.as_str() }));
            } else {
                println!("deleted project {} ({})", project.name, project.id);
            }
        }
        ProjectCommand::Keys { project, rotate, grace, revoke } => {
            let project = find(&platform, &project).await?;
            if let Some(key_id) = rotate {
                let new = platform.rotate_key(&project.id, &key_id, Duration::from_secs(grace)).await?;
                if args.json {
                    println!("{:#}", json!({ "id": new.id, "kind": kind(new.kind), "key": new.secret }));
                } else {
                    println!("new {} key  {}", kind(new.kind), new.secret);
                    println!("(shown once; {key_id} keeps working for {grace} s)");
                }
                return Ok(());
            }
            if let Some(key_id) = revoke {
                platform.revoke_key(&project.id, &key_id).await?;
                if args.json {
                    println!("{:#}", json!({ "revoked": key_id }));
                } else {
                    println!("revoked {key_id}");
                }
                return Ok(());
            }
            let keys = platform.keys(&project.id).await?;
            if args.json {
                println!("{:#}", serde_json::Value::Array(keys.iter().map(key_json).collect()));
            } else {
                println!("{:<26} {:<12} {:<8} expires", "id", "kind", "state");
                for k in &keys {
                    let expires = k.expires_at.map_or_else(|| "never".to_owned(), |t| unix(t).to_string());
                    println!("{:<26} {:<12} {:<8} {expires}", k.id, kind(k.kind), state(k));
                }
            }
        }
    }
    Ok(())
}

/// A project by id, else by slug.
pub(crate) async fn find(platform: &Platform, id_or_slug: &str) -> Result<Project> {
    if let Ok(id) = ProjectId::new(id_or_slug.to_owned())
        && let Ok(p) = platform.project(&id).await
    {
        return Ok(p);
    }
    platform.project_by_slug(id_or_slug).await.map_err(|_| {
        Error::Refused(format!(
            "no project `{id_or_slug}` (by id or slug): `easbase project list` shows them"
        ))
    })
}

/// A pause or resume the project's state does not allow (already paused, not paused,
/// still provisioning) is the user's mistake: refused with core's reason.
fn status_refusal(e: easbase_core::Error, verb: &str) -> Error {
    match e {
        easbase_core::Error::Config(reason) => Error::Refused(format!("cannot {verb}: {reason}")),
        other => other.into(),
    }
}

fn print_status_change(p: &Project, done: &str, json: bool) {
    if json {
        println!("{:#}", project_json(p));
    } else {
        println!("{done} project {} ({}): {}", p.name, p.id, p.status.as_str());
    }
}

fn print_project(p: &Project) {
    println!("project          {} ({})", p.name, p.status.as_str());
    println!("id               {}", p.id);
    println!("slug             {}", p.slug);
    println!("isolation        {}", p.isolation.as_str());
    println!("API URL          {}", p.api_url);
}

fn project_json(p: &Project) -> serde_json::Value {
    json!({
        "id": p.id.as_str(),
        "name": p.name,
        "slug": p.slug,
        "owner": p.owner,
        "status": p.status.as_str(),
        "isolation": p.isolation.as_str(),
        "plan": p.plan,
        "api_url": p.api_url,
        "schema_version": p.schema_version,
    })
}

fn kind(k: KeyKind) -> &'static str {
    match k {
        KeyKind::Publishable => "publishable",
        KeyKind::Secret => "secret",
    }
}

fn state(k: &StoredKey) -> &'static str {
    if k.revoked {
        "revoked"
    } else if k.expires_at.is_some_and(|t| t <= SystemTime::now()) {
        "expired"
    } else {
        "live"
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn key_json(k: &StoredKey) -> serde_json::Value {
    json!({
        "id": k.id,
        "kind": kind(k.kind),
        "state": state(k),
        "created_at": unix(k.created_at),
        "expires_at": k.expires_at.map(unix),
    })
}
