//! Bringing a project's tables to a schema through the migration planner, as
//! `easbase schema apply` and `easbase serve` do: the plan goes from the project's
//! current schema (modules' tables included) to the wanted one; an empty plan changes
//! nothing; destructive steps need an explicit opt-in.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use easbase_core::context::ProjectId;
use easbase_core::project::Platform;
use easbase_core::schema::Schema;
use easbase_core::schema::migrate::{self, ApplyReport, Plan};

use crate::database::modules;
use crate::error::{Error, Result};

/// How to migrate.
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    /// Run plans with destructive steps.
    pub allow_destructive: bool,
    /// The version to record (default: [`new_version`]).
    pub version: Option<String>,
    /// Only plan: change nothing.
    pub dry_run: bool,
}

/// What [`migrate()`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Migration {
    /// The project already has this schema.
    UpToDate,
    /// A dry run: the plan that would run.
    Planned(Plan),
    /// The plan ran.
    Applied(Box<ApplyReport>),
}

/// A version name for a schema applied now: `<unix seconds>-<checksum prefix>`, so a
/// schema that returns to an earlier shape is still a new version.
pub fn new_version(schema: &Schema) -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{secs}-{}", &migrate::checksum(&schema.to_json())[..12])
}

/// Validates `schema` on its own for `dialect`, so its errors name the paths of its own
/// file (the platform adds its modules' tables to it afterwards).
///
/// # Errors
/// [`Error::Schema`] with every error and its path.
pub fn check(schema: &Schema, dialect: easbase_core::schema::Dialect) -> Result<()> {
    schema.validate_for(dialect).map(|_| ()).map_err(|e| Error::Schema(easbase_schema::Error::from(e)))
}

/// The plan from the project's current schema to `schema`.
///
/// # Errors
/// [`Error::Schema`] when `schema` is invalid (for the project's dialect);
/// [`Error::Core`] when the project cannot be reached.
pub async fn plan(platform: &Platform, id: &ProjectId, schema: &Schema) -> Result<Plan> {
    let pdb = platform.project_db(id).await?;
    let dialect = pdb.dialect();
    check(schema, dialect)?;
    let mut merged = Schema::default();
    for m in modules() {
        let s = m.project_schema();
        merged.enums.extend(s.enums);
        merged.tables.extend(s.tables);
    }
    merged.enums.extend(schema.enums.iter().cloned());
    merged.tables.extend(schema.tables.iter().cloned());
    let invalid = |e| Error::Schema(easbase_schema::Error::from(e));
    let new = merged.validate_for(dialect).map_err(invalid)?;
    let empty;
    let old = match pdb.schema() {
        Some(s) => &**s,
        None => {
            empty = Schema::default().validate().map_err(invalid)?;
            &empty
        }
    };
    migrate::plan(old, &new, dialect, &pdb.ddl_options()).map_err(invalid)
}

/// Plans and (unless a dry run) applies; `progress` gets a line before and after.
///
/// # Errors
/// [`Error::Refused`] for destructive steps without
/// [`MigrateOptions::allow_destructive`] (each step listed); see [`plan`];
/// [`Error::Schema`] / [`Error::Core`] when applying fails (the transaction is rolled back).
pub async fn migrate(
    platform: &Platform,
    id: &ProjectId,
    schema: &Schema,
    options: &MigrateOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Migration> {
    let plan = plan(platform, id, schema).await?;
    if plan.is_empty() {
        return Ok(Migration::UpToDate);
    }
    if options.dry_run {
        return Ok(Migration::Planned(plan));
    }
    let destructive: Vec<&str> = plan.destructive_steps().map(|s| s.description.as_str()).collect();
    if !destructive.is_empty() && !options.allow_destructive {
        return Err(Error::Refused(format!(
            "the schema change has {} destructive step(s) that would lose data:\n  ! {}\npass --allow-destructive to apply it",
            destructive.len(),
            destructive.join("\n  ! ")
        )));
    }
    let version = options.version.clone().unwrap_or_else(|| new_version(schema));
    progress(&format!("migrating to version {version}: {} step(s)…", plan.steps.len()));
    let started = Instant::now();
    let report = platform.apply_schema(id, &version, schema, options.allow_destructive).await?;
    progress(&format!(
        "migrated: {} step(s) applied in {} ms",
        report.plan.steps.len(),
        started.elapsed().as_millis()
    ));
    Ok(Migration::Applied(Box::new(report)))
}
