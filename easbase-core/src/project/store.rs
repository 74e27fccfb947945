//! The platform tables (`projects`, `api_keys`) and the statements that read and write
//! them. Described as an easbase-schema [`Schema`] and applied by its migrator, like any
//! project's tables. Times are Unix seconds (`bigint`), the same on every engine.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use easbase_schema::{Dialect, Ident, Schema};
use sea_query::{Alias, Expr, ExprTrait, Query, TableRef};

use super::model::{Isolation, Project, ProjectStatus};
use crate::context::ProjectId;
use crate::db::{Row, Stmt};
use crate::error::{Error, Result};
use crate::keys::{KeyKind, StoredKey, hash_from_hex, hash_to_hex};

/// The platform's own tables.
pub(crate) const PLATFORM_SCHEMA: &str = r#"{ "tables": [
  { "name": "projects", "comment": "EasBase projects (tenants)",
    "columns": [
      { "name": "id", "type": "varchar(40)", "primary": true },
      { "name": "slug", "type": "varchar(40)", "required": true, "unique": true },
      { "name": "name", "type": "varchar(100)", "required": true },
      { "name": "owner", "type": "varchar(200)", "required": true },
      { "name": "status", "type": "varchar(20)", "required": true },
      { "name": "status_reason", "type": "text" },
      { "name": "isolation", "type": "varchar(20)", "required": true },
      { "name": "plan", "type": "varchar(40)", "required": true },
      { "name": "idempotency_key", "type": "varchar(200)" },
      { "name": "jwt_secret", "type": "varchar(200)", "required": true },
      { "name": "schema_version", "type": "varchar(100)" },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "database_url", "type": "text",
        "comment": "Dedicated projects on another server: its connection string, which may hold a password" },
      { "name": "adopted", "type": "text",
        "comment": "Projects serving an existing PostgreSQL schema: the schema and roles (JSON)" },
      { "name": "lease_owner", "type": "varchar(40)",
        "comment": "The platform instance provisioning the project now" },
      { "name": "lease_until", "type": "bigint",
        "comment": "Until when (Unix seconds) its provisioning is claimed by lease_owner" }
    ],
    "unique": [ ["owner", "idempotency_key"] ],
    "indexes": [ { "columns": ["owner"] } ] },
  { "name": "api_keys", "comment": "API keys: hashes only",
    "columns": [
      { "name": "id", "type": "varchar(40)", "primary": true },
      { "name": "project_id", "type": "varchar(40)", "required": true,
        "references": { "table": "projects", "column": "id", "on_delete": "cascade" } },
      { "name": "kind", "type": "varchar(20)", "required": true },
      { "name": "hash", "type": "varchar(64)", "required": true },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "expires_at", "type": "bigint" },
      { "name": "revoked", "type": "boolean", "required": true, "default": false }
    ],
    "indexes": [ { "columns": ["project_id"] } ] },
  { "name": "project_schemas", "comment": "Projects' named schemas (profiles besides public)",
    "columns": [
      { "name": "id", "type": "varchar(120)", "primary": true,
        "comment": "<project id>/<name>" },
      { "name": "project_id", "type": "varchar(40)", "required": true },
      { "name": "name", "type": "varchar(63)", "required": true },
      { "name": "schema_version", "type": "varchar(100)" },
      { "name": "created_at", "type": "bigint", "required": true }
    ],
    "indexes": [ { "columns": ["project_id"] } ] }
] }"#;

/// The platform tables that hold rows of a project by its id, besides `projects` and
/// `api_keys` (whose rows go by cascade): every table with a `project_id` column (usage,
/// logs, modules' tables).
pub(crate) fn tables_keyed_by_project(schema: &Schema) -> Vec<String> {
    schema
        .tables
        .iter()
        .filter(|t| !matches!(t.name.as_str(), "projects" | "api_keys"))
        .filter(|t| t.columns.iter().any(|c| c.name == "project_id"))
        .map(|t| t.name.clone())
        .collect()
}

/// The platform tables, merged with the modules' platform tables.
pub(crate) fn platform_schema(extra: impl IntoIterator<Item = Schema>) -> Result<Schema> {
    let mut schema = Schema::from_json(PLATFORM_SCHEMA)?;
    for s in extra {
        schema.enums.extend(s.enums);
        schema.tables.extend(s.tables);
    }
    Ok(schema)
}

pub(crate) fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn from_unix(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// Builds statements on the platform tables for one database.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) dialect: Dialect,
    /// The PostgreSQL schema of the platform tables.
    pub(crate) schema: Option<Ident>,
}

const PROJECT_COLUMNS: [&str; 14] = [
    "id",
    "slug",
    "name",
    "owner",
    "status",
    "status_reason",
    "isolation",
    "plan",
    "idempotency_key",
    "jwt_secret",
    "schema_version",
    "created_at",
    "database_url",
    "adopted",
];

/// A project row with the platform-private fields.
#[derive(Clone)]
pub(crate) struct ProjectRow {
    pub(crate) project: Project,
    pub(crate) jwt_secret: String,
    /// Dedicated projects on another server: its connection string (may hold a password).
    pub(crate) database_url: Option<String>,
    /// An existing PostgreSQL schema the project serves.
    pub(crate) adopt: Option<super::model::AdoptSchema>,
}

impl std::fmt::Debug for ProjectRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The JWT secret and the database URL are secrets.
        f.debug_struct("ProjectRow").field("project", &self.project).finish_non_exhaustive()
    }
}

impl Store {
    fn table(&self, name: &str) -> TableRef {
        use sea_query::IntoTableRef;
        match (&self.schema, self.dialect) {
            (Some(s), Dialect::Postgres) => (Alias::new(s.as_str()), Alias::new(name)).into_table_ref(),
            _ => Alias::new(name).into_table_ref(),
        }
    }

    fn stmt(&self, q: &impl crate::db::BuildStmt) -> Stmt {
        q.build_for(self.dialect)
    }

    fn select_projects(&self) -> sea_query::SelectStatement {
        let mut q = Query::select();
        q.columns(PROJECT_COLUMNS.map(Alias::new)).from(self.table("projects"));
        q
    }

    pub(crate) fn project_by_id(&self, id: &str) -> Stmt {
        let mut q = self.select_projects();
        q.and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    pub(crate) fn project_by_slug(&self, slug: &str) -> Stmt {
        let mut q = self.select_projects();
        q.and_where(Expr::col(Alias::new("slug")).eq(slug));
        self.stmt(&q)
    }

    pub(crate) fn project_by_idempotency(&self, owner: &str, key: &str) -> Stmt {
        let mut q = self.select_projects();
        q.and_where(Expr::col(Alias::new("owner")).eq(owner))
            .and_where(Expr::col(Alias::new("idempotency_key")).eq(key));
        self.stmt(&q)
    }

    pub(crate) fn projects_of(&self, owner: Option<&str>) -> Stmt {
        let mut q = self.select_projects();
        if let Some(o) = owner {
            q.and_where(Expr::col(Alias::new("owner")).eq(o));
        }
        q.order_by(Alias::new("created_at"), sea_query::Order::Asc)
            .order_by(Alias::new("id"), sea_query::Order::Asc);
        self.stmt(&q)
    }

    pub(crate) fn count_projects_of(&self, owner: &str) -> Stmt {
        let mut q = Query::select();
        q.expr(Expr::cust("count(*)"))
            .from(self.table("projects"))
            .and_where(Expr::col(Alias::new("owner")).eq(owner));
        self.stmt(&q)
    }

    pub(crate) fn insert_project(&self, row: &ProjectRow, idempotency_key: Option<&str>) -> Stmt {
        let p = &row.project;
        let mut q = Query::insert();
        q.into_table(self.table("projects")).columns(PROJECT_COLUMNS.map(Alias::new)).values_panic([
            p.id.as_str().into(),
            p.slug.as_str().into(),
            p.name.as_str().into(),
            p.owner.as_str().into(),
            p.status.as_str().into(),
            status_reason(&p.status).into(),
            p.isolation.as_str().into(),
            p.plan.as_str().into(),
            idempotency_key.map(str::to_owned).into(),
            row.jwt_secret.as_str().into(),
            p.schema_version.clone().into(),
            p.created_at.into(),
            row.database_url.clone().into(),
            row.adopt.as_ref().and_then(|a| serde_json::to_string(a).ok()).into(),
        ]);
        self.stmt(&q)
    }

    pub(crate) fn set_status(&self, id: &str, status: &ProjectStatus) -> Stmt {
        let mut q = Query::update();
        q.table(self.table("projects"))
            .value(Alias::new("status"), status.as_str())
            .value(Alias::new("status_reason"), status_reason(status))
            .and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    /// Claims the provisioning of a `provisioning` or `failed` project for `owner` until
    /// `until`, unless another instance holds an unexpired claim (affects one row when
    /// claimed, none otherwise).
    pub(crate) fn claim_lease(&self, id: &str, owner: &str, now: i64, until: i64) -> Stmt {
        let mut q = Query::update();
        q.table(self.table("projects"))
            .value(Alias::new("lease_owner"), owner)
            .value(Alias::new("lease_until"), until)
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .and_where(Expr::col(Alias::new("status")).is_in(["provisioning", "failed"]))
            .and_where(
                Expr::col(Alias::new("lease_until"))
                    .is_null()
                    .or(Expr::col(Alias::new("lease_until")).lt(now))
                    .or(Expr::col(Alias::new("lease_owner")).eq(owner)),
            );
        self.stmt(&q)
    }

    /// Releases a provisioning claim.
    pub(crate) fn release_lease(&self, id: &str) -> Stmt {
        let mut q = Query::update();
        q.table(self.table("projects"))
            .value(Alias::new("lease_owner"), Option::<String>::None)
            .value(Alias::new("lease_until"), Option::<i64>::None)
            .and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    pub(crate) fn set_name(&self, id: &str, name: &str) -> Stmt {
        let mut q = Query::update();
        q.table(self.table("projects"))
            .value(Alias::new("name"), name)
            .and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    pub(crate) fn set_schema_version(&self, id: &str, version: &str) -> Stmt {
        let mut q = Query::update();
        q.table(self.table("projects"))
            .value(Alias::new("schema_version"), version)
            .and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    pub(crate) fn delete_project(&self, id: &str) -> Stmt {
        let mut q = Query::delete();
        q.from_table(self.table("projects")).and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    /// Deletes the rows of a project from a platform table with a `project_id` column.
    pub(crate) fn delete_rows_of(&self, table: &str, project: &str) -> Stmt {
        self.delete_where(table, "project_id", project)
    }

    /// Deletes the rows of a platform table whose `column` equals `value`.
    pub(crate) fn delete_where(&self, table: &str, column: &str, value: &str) -> Stmt {
        let mut q = Query::delete();
        q.from_table(self.table(table)).and_where(Expr::col(Alias::new(column)).eq(value));
        self.stmt(&q)
    }

    pub(crate) fn insert_key(&self, key: &StoredKey) -> Stmt {
        let mut q = Query::insert();
        q.into_table(self.table("api_keys"))
            .columns(
                ["id", "project_id", "kind", "hash", "created_at", "expires_at", "revoked"].map(Alias::new),
            )
            .values_panic([
                key.id.as_str().into(),
                key.project_id.as_str().into(),
                key.kind.as_str().into(),
                hash_to_hex(&key.hash).into(),
                unix(key.created_at).into(),
                key.expires_at.map(unix).into(),
                key.revoked.into(),
            ]);
        self.stmt(&q)
    }

    pub(crate) fn expire_key(&self, id: &str, expires_at: SystemTime) -> Stmt {
        let mut q = Query::update();
        q.table(self.table("api_keys"))
            .value(Alias::new("expires_at"), unix(expires_at))
            .and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    pub(crate) fn revoke_key(&self, id: &str) -> Stmt {
        let mut q = Query::update();
        q.table(self.table("api_keys"))
            .value(Alias::new("revoked"), true)
            .and_where(Expr::col(Alias::new("id")).eq(id));
        self.stmt(&q)
    }

    pub(crate) fn keys_of(&self, project: &str) -> Stmt {
        let mut q = Query::select();
        q.columns(KEY_COLUMNS.map(Alias::new))
            .from(self.table("api_keys"))
            .and_where(Expr::col(Alias::new("project_id")).eq(project))
            .order_by(Alias::new("created_at"), sea_query::Order::Asc)
            .order_by(Alias::new("id"), sea_query::Order::Asc);
        self.stmt(&q)
    }

    /// A key and its project's state, by key id.
    pub(crate) fn key_with_project(&self, key_id: &str) -> Stmt {
        let mut q = Query::select();
        for c in KEY_COLUMNS {
            q.column((Alias::new("k"), Alias::new(c)));
        }
        q.expr_as(Expr::col((Alias::new("p"), Alias::new("status"))), Alias::new("project_status"))
            .expr_as(Expr::col((Alias::new("p"), Alias::new("jwt_secret"))), Alias::new("jwt_secret"))
            .from_as(self.table("api_keys"), Alias::new("k"))
            .join_as(
                sea_query::JoinType::InnerJoin,
                self.table("projects"),
                Alias::new("p"),
                Expr::col((Alias::new("p"), Alias::new("id")))
                    .equals((Alias::new("k"), Alias::new("project_id"))),
            )
            .and_where(Expr::col((Alias::new("k"), Alias::new("id"))).eq(key_id));
        self.stmt(&q)
    }
}

impl Store {
    /// The named schemas of a project, by name.
    pub(crate) fn named_schemas_of(&self, project: &str) -> Stmt {
        let mut q = Query::select();
        q.columns(["name", "schema_version", "created_at"].map(Alias::new))
            .from(self.table(NAMED_SCHEMAS))
            .and_where(Expr::col(Alias::new("project_id")).eq(project))
            .order_by(Alias::new("name"), sea_query::Order::Asc);
        self.stmt(&q)
    }

    /// Records a named schema of a project at `version`.
    pub(crate) fn insert_named_schema(&self, project: &str, name: &str, version: &str, now: i64) -> Stmt {
        let mut q = Query::insert();
        q.into_table(self.table(NAMED_SCHEMAS))
            .columns(["id", "project_id", "name", "schema_version", "created_at"].map(Alias::new))
            .values_panic([
                format!("{project}/{name}").into(),
                project.into(),
                name.into(),
                version.into(),
                now.into(),
            ]);
        self.stmt(&q)
    }

    /// Sets the version of a named schema.
    pub(crate) fn set_named_version(&self, project: &str, name: &str, version: &str) -> Stmt {
        let mut q = Query::update();
        q.table(self.table(NAMED_SCHEMAS))
            .value(Alias::new("schema_version"), version)
            .and_where(Expr::col(Alias::new("id")).eq(format!("{project}/{name}")));
        self.stmt(&q)
    }

    /// Forgets a named schema.
    pub(crate) fn delete_named_schema(&self, project: &str, name: &str) -> Stmt {
        self.delete_where(NAMED_SCHEMAS, "id", &format!("{project}/{name}"))
    }
}

/// The platform table of projects' named schemas.
pub(crate) const NAMED_SCHEMAS: &str = "project_schemas";

const KEY_COLUMNS: [&str; 7] = ["id", "project_id", "kind", "hash", "created_at", "expires_at", "revoked"];

fn status_reason(status: &ProjectStatus) -> Option<String> {
    match status {
        ProjectStatus::Failed(reason) => Some(reason.clone()),
        _ => None,
    }
}

fn corrupt(what: &str) -> Error {
    Error::Database { sqlstate: None, message: format!("the platform table holds an unreadable {what}") }
}

/// Reads a project row.
pub(crate) fn project_row(row: &Row, api_url: impl Fn(&str, &str) -> String) -> Result<ProjectRow> {
    let id = ProjectId::new(row.text("id")?).map_err(|_| corrupt("project id"))?;
    let status = ProjectStatus::parse(&row.text("status")?, row.opt_text("status_reason")?)
        .ok_or_else(|| corrupt("project status"))?;
    let isolation = Isolation::parse(&row.text("isolation")?).ok_or_else(|| corrupt("isolation"))?;
    let slug = row.text("slug")?;
    Ok(ProjectRow {
        project: Project {
            api_url: api_url(id.as_str(), &slug),
            id,
            slug,
            name: row.text("name")?,
            owner: row.text("owner")?,
            status,
            isolation,
            plan: row.text("plan")?,
            schema_version: row.opt_text("schema_version")?,
            created_at: row.int("created_at")?,
        },
        jwt_secret: row.text("jwt_secret")?,
        database_url: row.opt_text("database_url")?,
        adopt: row
            .opt_text("adopted")?
            .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("adopted schema")))
            .transpose()?,
    })
}

/// Reads a key row.
pub(crate) fn key_row(row: &Row) -> Result<StoredKey> {
    let revoked = match row.get("revoked") {
        Some(c) => c.as_i64().ok_or_else(|| corrupt("key flag"))? != 0,
        None => return Err(corrupt("key flag")),
    };
    Ok(StoredKey {
        id: row.text("id")?,
        project_id: ProjectId::new(row.text("project_id")?).map_err(|_| corrupt("key project"))?,
        kind: KeyKind::from_name(&row.text("kind")?).ok_or_else(|| corrupt("key kind"))?,
        hash: hash_from_hex(&row.text("hash")?).ok_or_else(|| corrupt("key hash"))?,
        created_at: from_unix(row.int("created_at")?),
        expires_at: match row.get("expires_at") {
            Some(c) if c.is_null() => None,
            Some(c) => Some(from_unix(c.as_i64().ok_or_else(|| corrupt("key expiry"))?)),
            None => None,
        },
        revoked,
    })
}

/// Reads the single integer of a `count(*)`.
pub(crate) fn count(rows: &[Row]) -> Result<i64> {
    rows.first()
        .and_then(|r| r.cells.first())
        .and_then(crate::db::Cell::as_i64)
        .ok_or_else(|| corrupt("count"))
}

/// Whether a database error is a unique violation (on any engine).
pub(crate) fn is_unique_violation(e: &Error) -> bool {
    matches!(e.sqlstate(), Some("23505" | "2067" | "1555" | "1062"))
}
