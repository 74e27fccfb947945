//! The `easbase` command.
//!
//! ```text
//! easbase schema check FILE [--dialect postgres|sqlite|mysql]... [--json]
//! easbase schema sql --dialect postgres|sqlite|mysql [--pg-schema NAME] [--no-security] FILE
//! easbase schema plan --dialect postgres|sqlite|mysql OLD NEW
//! easbase schema apply FILE --project ID_OR_SLUG [--database-url URL] [--allow-destructive] [--dry-run] [--json]
//! easbase schema json-schema
//! easbase project create NAME [--schema FILE] [--isolation shared|dedicated] [--database-url URL] [--json]
//! easbase project list [--owner OWNER] [--database-url URL] [--json]
//! easbase project keys ID_OR_SLUG [--rotate KEY_ID [--grace SECONDS] | --revoke KEY_ID] [--json]
//! easbase project pause|resume ID_OR_SLUG [--database-url URL] [--json]
//! easbase project delete ID_OR_SLUG --confirm SLUG [--database-url URL] [--json]
//! easbase serve --schema FILE [--database-url URL] [--listen 127.0.0.1:PORT] [--project NAME] [--profile NAME=FILE]... [--allow-destructive]
//!               [--state-dir DIR] [--reissue-keys [--grace SECONDS]]   (keys given in EASBASE_PUBLISHABLE_KEY, EASBASE_SECRET_KEY)
//! easbase gen types|sdk|openapi|endpoints [--out FILE] SCHEMA_FILE
//! ```
//!
//! Files are JSON or TOML, told apart by their extension. Database URLs are
//! `postgres://…`, `mysql://…` (feature `mysql`), `sqlite://FILE` or `sqlite::memory:`; without one the platform is the
//! embedded SQLite file `.easbase/easbase.db`. Exit status: 0 on success, 1 when the
//! input is refused (an invalid schema, with every error and its path; a destructive
//! migration without `--allow-destructive`; an unknown project) or the work fails, 2 when
//! a file cannot be read or the command line is wrong.

#![forbid(unsafe_code)]

mod commands;
#[path = "gen.rs"]
mod generate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use easbase_schema::{Dialect, Error, Ident, Schema, ValidationErrors, ddl, migrate};

/// EasBase: a backend-as-a-service toolkit for Rust.
#[derive(Debug, Parser)]
#[command(name = "easbase", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with schema descriptions: validate, print DDL, plan and apply migrations.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Create, list and inspect projects on a platform database.
    Project {
        #[command(subcommand)]
        command: commands::project::ProjectCommand,
        #[command(flatten)]
        platform: commands::project::PlatformArgs,
    },
    /// Serve a schema's project: REST at /rest/v1, auth at /auth/v1.
    Serve(commands::serve::ServeArgs),
    /// Generate TypeScript types, the @easbase/sdk module, OpenAPI 3.1 or the endpoint list.
    #[command(subcommand)]
    Gen(generate::GenCommand),
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Validate a schema file and print every error with its path.
    Check {
        /// The schema file (.json or .toml).
        file: PathBuf,
        /// Also check what these dialects can represent (default: all three).
        #[arg(long, short)]
        dialect: Vec<Dialect>,
        /// Print the errors as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the DDL (tables, indexes, and on PostgreSQL row-level security) for a dialect.
    Sql {
        /// The schema file (.json or .toml).
        file: PathBuf,
        /// The target dialect.
        #[arg(long, short)]
        dialect: Dialect,
        /// PostgreSQL: create the tables in this schema (namespace).
        #[arg(long)]
        pg_schema: Option<String>,
        /// PostgreSQL: leave out row-level security, policies and grants.
        #[arg(long)]
        no_security: bool,
    },
    /// Print the migration steps from OLD to NEW; destructive steps are marked with `!`.
    Plan {
        /// The current schema file.
        old: PathBuf,
        /// The wanted schema file.
        new: PathBuf,
        /// The target dialect.
        #[arg(long, short)]
        dialect: Dialect,
        /// Print the SQL of each step too.
        #[arg(long)]
        sql: bool,
    },
    /// Migrate a project's tables to a schema file (destructive steps need --allow-destructive).
    Apply(commands::apply::ApplyArgs),
    /// Print the JSON Schema of the description format (for editors).
    JsonSchema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn load(path: &PathBuf) -> Result<Schema, Error> {
    Schema::from_path(path)
}

fn report(errors: &ValidationErrors, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(errors).unwrap_or_default());
    } else {
        eprintln!("{errors}");
    }
    ExitCode::from(1)
}

fn run(command: Command) -> Result<ExitCode, Error> {
    let command = match command {
        Command::Schema(SchemaCommand::Apply(args)) => {
            return Ok(commands::block_on(commands::apply::run(args)));
        }
        Command::Project { command, platform } => {
            return Ok(commands::block_on(commands::project::run(command, platform)));
        }
        Command::Serve(args) => return Ok(commands::block_on(commands::serve::run(args))),
        Command::Gen(command) => return Ok(generate::run(command)),
        Command::Schema(command) => command,
    };
    match command {
        SchemaCommand::Check { file, dialect, json } => {
            let schema = load(&file)?;
            let valid = match schema.validate() {
                Ok(v) => v,
                Err(errors) => return Ok(report(&errors, json)),
            };
            let dialects = if dialect.is_empty() { Dialect::ALL.to_vec() } else { dialect };
            let mut all = ValidationErrors::default();
            for d in dialects {
                if let Err(e) = easbase_schema::validate::check_dialect(&valid, d) {
                    all.0.extend(e.0);
                }
            }
            if !all.is_empty() {
                return Ok(report(&all, json));
            }
            if json {
                println!("[]");
            } else {
                println!("{}: ok ({} table(s))", file.display(), valid.tables().len());
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Sql { file, dialect, pg_schema, no_security } => {
            let valid = match load(&file)?.validate() {
                Ok(v) => v,
                Err(errors) => return Ok(report(&errors, false)),
            };
            let schema = match pg_schema.map(Ident::new).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: --pg-schema: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let options = ddl::DdlOptions { schema, security: !no_security, ..Default::default() };
            match ddl::generate(&valid, dialect, &options) {
                Ok(ddl) => {
                    print!("{}", ddl.to_sql());
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => Ok(report(&errors, false)),
            }
        }
        SchemaCommand::Plan { old, new, dialect, sql } => {
            let (old, new) = match (load(&old)?.validate(), load(&new)?.validate()) {
                (Ok(o), Ok(n)) => (o, n),
                (Err(errors), _) | (_, Err(errors)) => return Ok(report(&errors, false)),
            };
            match migrate::plan(&old, &new, dialect, &ddl::DdlOptions::default()) {
                Ok(plan) => {
                    if plan.is_empty() {
                        println!("no changes");
                    } else if sql {
                        print!("{}", plan.to_sql());
                    } else {
                        print!("{plan}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => Ok(report(&errors, false)),
            }
        }
        SchemaCommand::Apply(_) => unreachable!("handled above"),
        SchemaCommand::JsonSchema => {
            print!("{}", easbase_schema::json_schema());
            Ok(ExitCode::SUCCESS)
        }
    }
}
