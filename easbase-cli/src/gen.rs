//! `easbase gen types|sdk|openapi|endpoints [--out FILE] SCHEMA_FILE`: what a client needs,
//! generated from a schema file by easbase-codegen (deterministic: the same file gives
//! the same bytes, so the output can be committed).
//!
//! Exit status: 0 written, 1 the schema is invalid (every error printed with its path)
//! or the output cannot be written, 2 the schema file cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use easbase_codegen::openapi::{self, OpenApiOptions};
use easbase_codegen::{Options, endpoints, sdk, typescript};
use easbase_schema::{Schema, ValidSchema};

/// `easbase gen …`.
#[derive(Debug, Subcommand)]
pub(crate) enum GenCommand {
    /// TypeScript types in the shape of `supabase gen types typescript` (for `createClient<Database>`).
    Types {
        #[command(flatten)]
        io: Io,
        #[command(flatten)]
        ts: TsArgs,
    },
    /// A TypeScript module for @easbase/sdk: the types, each table's key, `createEasBase()`.
    Sdk {
        #[command(flatten)]
        io: Io,
        #[command(flatten)]
        ts: TsArgs,
        /// The package the module imports the client from.
        #[arg(long, default_value = "@easbase/sdk")]
        package: String,
    },
    /// An OpenAPI 3.1 document of the REST API (JSON).
    Openapi {
        #[command(flatten)]
        io: Io,
        /// `info.title`.
        #[arg(long, default_value = "EasBase REST API")]
        title: String,
        /// `info.version`: the version of your API.
        #[arg(long, default_value = "1.0.0")]
        api_version: String,
        /// Where the REST API is served (`https://api.example.com/rest/v1`).
        #[arg(long, default_value = "/rest/v1")]
        server_url: String,
        /// `info.description`.
        #[arg(long)]
        description: Option<String>,
    },
    /// The endpoint of each table's operations, one a line (`create: POST /rest/v1/products`).
    Endpoints {
        #[command(flatten)]
        io: Io,
        /// Where the REST API is mounted (a path or a full URL).
        #[arg(long, default_value = "/rest/v1")]
        base_path: String,
        /// Print a JSON array of `{table, action, method, path}` instead.
        #[arg(long)]
        json: bool,
    },
}

/// The input schema and where the output goes.
#[derive(Debug, Args)]
pub(crate) struct Io {
    /// The schema file (.json or .toml).
    schema_file: PathBuf,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Options of the TypeScript outputs.
#[derive(Debug, Args)]
pub(crate) struct TsArgs {
    /// `__InternalSupabase.PostgrestVersion` in `Database` (which PostgREST features supabase-js types).
    #[arg(long, default_value = "12")]
    postgrest_version: String,
}

/// What one command generates from a valid schema.
type Generate = Box<dyn FnOnce(&ValidSchema) -> String>;

/// Runs one `gen` command.
pub(crate) fn run(command: GenCommand) -> ExitCode {
    let (io, generate): (Io, Generate) = match command {
        GenCommand::Types { io, ts } => {
            let options = ts_options(ts, None);
            (io, Box::new(move |s| typescript::database_types(s, &options)))
        }
        GenCommand::Sdk { io, ts, package } => {
            let options = ts_options(ts, Some(package));
            (io, Box::new(move |s| sdk::typescript(s, &options)))
        }
        GenCommand::Openapi { io, title, api_version, server_url, description } => {
            let mut options = OpenApiOptions::new(title, api_version);
            options.server_url = server_url;
            options.description = description;
            (io, Box::new(move |s| openapi::to_json(&openapi::document(s, &options))))
        }
        GenCommand::Endpoints { io, base_path, json } => {
            (io, Box::new(move |s| endpoint_text(&endpoints::listing(s, &base_path), json)))
        }
    };
    let valid = match load(&io.schema_file) {
        Ok(valid) => valid,
        Err(code) => return code,
    };
    let text = generate(&valid);
    match io.out {
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Some(path) => write(&path, &text),
    }
}

fn ts_options(args: TsArgs, package: Option<String>) -> Options {
    let mut options = Options::default();
    options.postgrest_version = args.postgrest_version;
    if let Some(package) = package {
        options.sdk_package = package;
    }
    options
}

fn endpoint_text(list: &[endpoints::Endpoint], json: bool) -> String {
    if !json {
        return endpoints::to_text(list);
    }
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            serde_json::json!({ "table": e.table, "action": e.action.as_str(), "method": e.method, "path": e.path })
        })
        .collect();
    format!("{}\n", serde_json::to_string_pretty(&rows).unwrap_or_default())
}

/// The valid schema of a file; otherwise the errors printed (every one with its path) and
/// the exit code: 2 when the file cannot be read, 1 when the schema is invalid.
fn load(path: &Path) -> Result<ValidSchema, ExitCode> {
    let schema = Schema::from_path(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    schema.validate().map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(1)
    })
}

/// Writes through a temporary file in the same directory, so a watcher never sees half a file.
fn write(path: &Path, text: &str) -> ExitCode {
    let tmp = path.with_file_name(format!(
        ".{}.easbase-tmp",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    match result {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(1)
        }
    }
}
