//! The schema cache: per project, a versioned [`SchemaSnapshot`] of the tables REST
//! exposes, taken from [`ProjectDb::schema`](easbase_core::project::ProjectDb::schema).
//!
//! Core's project router already keeps each project's `Arc<ValidSchema>` and swaps it when
//! a migration is applied (in this process, or in another one through its invalidation
//! events). The cache here only derives REST's view of it — which tables are hidden — and
//! numbers each new schema it sees, so a snapshot is rebuilt only when core's `Arc`
//! changes: no per-request schema load.
//!
//! Hidden tables: every name starting with `_easbase`, and the host's exclusion list
//! ([`crate::RestConfig::hidden_tables`]; auth adds its own tables there). Each profile of
//! a project (a named schema, `Accept-Profile`) has its own snapshot; the host's list
//! applies to `public` only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use easbase_schema::{TableDef, ValidSchema};

/// REST's view of one project's schema at one version.
#[derive(Debug)]
pub struct SchemaSnapshot {
    schema: Arc<ValidSchema>,
    version: u64,
    hidden: Arc<[String]>,
}

impl SchemaSnapshot {
    /// A snapshot of `schema` at `version`, hiding `_easbase*` tables and `hidden`.
    pub fn new(schema: Arc<ValidSchema>, version: u64, hidden: Arc<[String]>) -> SchemaSnapshot {
        SchemaSnapshot { schema, version, hidden }
    }

    /// The schema (hidden tables included: policies and foreign keys may name them).
    pub fn schema(&self) -> &Arc<ValidSchema> {
        &self.schema
    }

    /// Its version: grows by one each time the cache sees a new schema for the project.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether REST hides the table named `name`.
    pub fn is_hidden(&self, name: &str) -> bool {
        name.starts_with("_easbase") || self.hidden.iter().any(|h| h == name)
    }

    /// An exposed table by name; `None` when it does not exist or is hidden.
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        if self.is_hidden(name) {
            return None;
        }
        self.schema.table(name)
    }
}

/// Snapshots per project, rebuilt only when core hands out a different schema.
#[derive(Debug, Default)]
pub struct SchemaCache {
    hidden: Arc<[String]>,
    projects: Mutex<HashMap<String, Arc<SchemaSnapshot>>>,
}

impl SchemaCache {
    /// An empty cache hiding `hidden` tables (besides `_easbase*`).
    pub fn new(hidden: Vec<String>) -> SchemaCache {
        SchemaCache { hidden: hidden.into(), projects: Mutex::default() }
    }

    /// The snapshot of `project` for `schema` (core's current one), reusing the cached
    /// snapshot while core's `Arc` is the same.
    pub fn snapshot(&self, project: &str, schema: &Arc<ValidSchema>) -> Arc<SchemaSnapshot> {
        let mut projects = self.projects.lock().unwrap_or_else(|p| p.into_inner());
        match projects.get(project) {
            Some(s) if Arc::ptr_eq(&s.schema, schema) => Arc::clone(s),
            previous => {
                let version = previous.map_or(1, |s| s.version + 1);
                let snap =
                    Arc::new(SchemaSnapshot::new(Arc::clone(schema), version, Arc::clone(&self.hidden)));
                projects.insert(project.to_owned(), Arc::clone(&snap));
                snap
            }
        }
    }

    /// The snapshot of `project`'s profile `profile` for `schema` (core's current one for
    /// that profile's handle): [`SchemaCache::snapshot`] for `public`; a named schema's is
    /// cached under its own key and hides only `_easbase*` tables (the host's hidden
    /// tables, auth's, live in `public`).
    pub fn snapshot_profile(
        &self,
        project: &str,
        profile: &str,
        schema: &Arc<ValidSchema>,
    ) -> Arc<SchemaSnapshot> {
        if profile == easbase_core::project::DEFAULT_PROFILE {
            return self.snapshot(project, schema);
        }
        let key = format!("{project}/{profile}");
        let mut projects = self.projects.lock().unwrap_or_else(|p| p.into_inner());
        match projects.get(&key) {
            Some(s) if Arc::ptr_eq(&s.schema, schema) => Arc::clone(s),
            previous => {
                let version = previous.map_or(1, |s| s.version + 1);
                let snap = Arc::new(SchemaSnapshot::new(Arc::clone(schema), version, Arc::from([])));
                projects.insert(key, Arc::clone(&snap));
                snap
            }
        }
    }

    /// Forgets a project's snapshots, its profiles' included (e.g. when it is deleted).
    pub fn forget(&self, project: &str) {
        self.projects.lock().unwrap_or_else(|p| p.into_inner()).retain(|key, _| {
            key.strip_prefix(project).is_none_or(|rest| !rest.is_empty() && !rest.starts_with('/'))
        });
    }
}
