//! `easbase schema apply`: migrate a project's tables to a schema file.

use std::path::PathBuf;

use clap::Args;
use easbase_cli::Result;
use easbase_cli::migrate::{self, MigrateOptions, Migration};
use easbase_core::schema::Schema;

use super::project::{PlatformArgs, find};

/// What `schema apply` takes.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The schema file (.json or .toml).
    file: PathBuf,
    /// The project (id or slug).
    #[arg(long)]
    project: String,
    /// Apply steps that lose data (dropped tables or columns, narrowed types).
    #[arg(long)]
    allow_destructive: bool,
    /// The version to record in the migration history (default:
    /// `<unix seconds>-<checksum prefix>`).
    #[arg(long, value_name = "VERSION")]
    migration_version: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    platform: PlatformArgs,
}

pub(crate) async fn run(args: ApplyArgs) -> Result<()> {
    let schema = Schema::from_path(&args.file)?;
    let platform = args.platform.open().await?;
    let project = find(&platform, &args.project).await?;
    eprintln!("planning {} for project `{}`…", args.file.display(), project.name);
    let options = MigrateOptions {
        allow_destructive: args.allow_destructive,
        version: args.migration_version,
        dry_run: args.dry_run,
    };
    let json = args.platform.json;
    match migrate::migrate(&platform, &project.id, &schema, &options, &mut |line| eprintln!("{line}")).await?
    {
        Migration::UpToDate => {
            if json {
                println!("{}", serde_json::json!({ "applied": false, "steps": [] }));
            } else {
                println!("no changes: project `{}` already has this schema", project.name);
            }
        }
        Migration::Planned(plan) => {
            if json {
                println!("{}", serde_json::json!({ "applied": false, "steps": steps(&plan) }));
            } else {
                print!("{plan}");
            }
        }
        Migration::Applied(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "applied": true,
                        "version": report.version,
                        "previous_version": report.previous_version,
                        "steps": steps(&report.plan),
                    })
                );
            } else {
                print!("{}", report.plan);
                println!("applied version {}", report.version);
            }
        }
        _ => {}
    }
    Ok(())
}

fn steps(plan: &easbase_core::schema::migrate::Plan) -> Vec<serde_json::Value> {
    plan.steps
        .iter()
        .map(|s| serde_json::json!({ "description": s.description, "destructive": s.destructive }))
        .collect()
}
