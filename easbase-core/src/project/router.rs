//! The project → database router: the open project handles ([`ProjectDb`]: the database
//! holding a project's tables and its schema), least recently used closed first.
//!
//! What a handle holds per backend:
//!
//! - PostgreSQL, shared: the platform's own pool (nothing to close) and the project's
//!   schema. Evicting it only drops the cached schema.
//! - PostgreSQL, dedicated: **a pool of its own** to the project's database. The router
//!   keeps at most `max_open_databases` handles; an evicted pool is closed as soon as no
//!   [`ProjectDb`] clone of it is alive any more (a request in flight keeps its pool until
//!   it is done), so the open pools are bounded by `max_open_databases` plus the handles
//!   held by requests in flight. It reopens on demand.
//! - MySQL / MariaDB: a pool of its own to the project's database, closed like a
//!   dedicated PostgreSQL pool.
//! - SQLite: a database file (closed like a dedicated pool) or an in-memory database,
//!   never closed (closing would lose it).
//!
//! A project's named schemas have handles of their own, under the key `<id>/<name>` (on
//! PostgreSQL they share the project's pool); forgetting or marking a project stale covers
//! them too.
//!
//! Cross-process events ([`super::events`]) mark a handle's schema stale (it is reloaded
//! on the next use, on the same pool) or forget the handle (a deleted project). Every such
//! change bumps an epoch, so a handle loaded while an event arrived is stored as stale
//! rather than trusted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use easbase_schema::ValidSchema;

use super::ProjectDb;
use crate::db::Db;

/// Whether the router key `key` is a handle of project `id`: its own (`id`) or one of its
/// named schemas' (`id/name`).
fn of_project(key: &str, id: &str) -> bool {
    key.strip_prefix(id).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Closes a dedicated pool (or a database file's handle) when the last [`ProjectDb`]
/// sharing it is dropped, and keeps the count of open ones.
pub(super) struct PoolGuard {
    db: Db,
    open: Arc<AtomicUsize>,
}

impl PoolGuard {
    pub(super) fn new(db: Db, open: Arc<AtomicUsize>) -> Arc<PoolGuard> {
        open.fetch_add(1, Ordering::SeqCst);
        Arc::new(PoolGuard { db, open })
    }
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        match &self.db {
            // Idle connections close now; checked-out ones when they are returned, and
            // `get` fails from now on for a `Db` clone kept beyond its `ProjectDb`.
            #[cfg(feature = "postgres")]
            Db::Postgres(pg) => pg.close(),
            // sqlx closes a pool asynchronously: on the runtime, if there is one (else the
            // connections close when the last clone of the pool is dropped).
            #[cfg(feature = "mysql")]
            Db::Mysql(my) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let pool = my.pool().clone();
                    runtime.spawn(async move { pool.close().await });
                }
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for PoolGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolGuard").field("db", &self.db).finish_non_exhaustive()
    }
}

/// What the router holds for a project.
pub(super) enum Lookup {
    /// An up-to-date handle.
    Hit(ProjectDb),
    /// A handle whose schema must be reloaded (an event said it changed).
    Stale(ProjectDb),
    /// Nothing: open it.
    Miss,
}

struct Entry {
    used: u64,
    pdb: ProjectDb,
    stale: bool,
}

#[derive(Default)]
struct State {
    tick: u64,
    entries: HashMap<String, Entry>,
}

/// The open project handles of a platform.
pub(super) struct Router {
    state: Mutex<State>,
    max: usize,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
    /// Open dedicated pools and database files (live [`PoolGuard`]s).
    pools: Arc<AtomicUsize>,
}

impl Router {
    pub(super) fn new(max: usize) -> Router {
        Router {
            state: Mutex::new(State::default()),
            max: max.max(1),
            epoch: AtomicU64::new(0),
            pools: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing a panic could leave half-done matters here: ignore poisoning.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counter new [`PoolGuard`]s register with.
    pub(super) fn pool_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.pools)
    }

    /// The current epoch: read it before loading a handle, pass it to
    /// [`Router::insert`] or [`Router::set_schema`].
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The handle of `id`, marking it most recently used.
    pub(super) fn get(&self, id: &str) -> Lookup {
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        match state.entries.get_mut(id) {
            Some(entry) => {
                entry.used = tick;
                if entry.stale { Lookup::Stale(entry.pdb.clone()) } else { Lookup::Hit(entry.pdb.clone()) }
            }
            None => Lookup::Miss,
        }
    }

    /// Stores a handle loaded since `epoch` and closes the least recently used ones beyond
    /// the bound. When another task stored one for the same project meanwhile, that one
    /// is kept and returned (one pool per project; an in-memory database is never opened
    /// twice).
    pub(super) fn insert(&self, pdb: ProjectDb, epoch: u64) -> ProjectDb {
        let stale = self.epoch() != epoch;
        let mut evicted = Vec::new();
        let kept = {
            let mut state = self.lock();
            state.tick += 1;
            let tick = state.tick;
            let key = pdb.router_key();
            if let Some(entry) = state.entries.get_mut(&key) {
                entry.used = tick;
                entry.stale |= stale;
                entry.pdb.clone()
            } else {
                state.entries.insert(key, Entry { used: tick, pdb: pdb.clone(), stale });
                while state.entries.len() > self.max {
                    let victim = state
                        .entries
                        .iter()
                        .filter(|(_, e)| !e.pdb.parts.in_memory)
                        .min_by_key(|(_, e)| e.used)
                        .map(|(k, _)| k.clone());
                    match victim.and_then(|k| state.entries.remove(&k)) {
                        Some(entry) => evicted.push(entry),
                        None => break,
                    }
                }
                pdb
            }
        };
        // Dropped outside the lock: closing a pool or a file may take a moment.
        drop(evicted);
        kept
    }

    /// Replaces the schema (and, when given, the list of profiles) of a cached handle
    /// (after a migration or a reload). It stays stale when another event arrived since
    /// `epoch`. `key` is the handle's [`ProjectDb::router_key`].
    pub(super) fn set_schema(
        &self,
        key: &str,
        schema: Option<Arc<ValidSchema>>,
        profiles: Option<Arc<[String]>>,
        epoch: u64,
    ) {
        let stale = self.epoch() != epoch;
        if let Some(entry) = self.lock().entries.get_mut(key) {
            let parts = entry.pdb.parts_mut();
            parts.schema = schema;
            if let Some(profiles) = profiles {
                parts.profiles = profiles;
            }
            entry.stale = stale;
        }
    }

    /// Forgets a project's handles, its named schemas' included (a pool closes once no
    /// clone is alive).
    pub(super) fn forget(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let removed: Vec<Entry> = {
            let mut state = self.lock();
            let keys: Vec<String> = state.entries.keys().filter(|k| of_project(k, id)).cloned().collect();
            keys.iter().filter_map(|k| state.entries.remove(k)).collect()
        };
        drop(removed);
    }

    /// Forgets one handle by its [`ProjectDb::router_key`] (a dropped named schema).
    pub(super) fn forget_key(&self, key: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let removed = self.lock().entries.remove(key);
        drop(removed);
    }

    /// The project's schemas changed elsewhere: reload them (and its list of profiles)
    /// on next use.
    pub(super) fn mark_stale(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for (key, entry) in self.lock().entries.iter_mut() {
            if of_project(key, id) {
                entry.stale = true;
            }
        }
    }

    /// Events may have been missed: reload every schema on next use.
    pub(super) fn mark_all_stale(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for entry in self.lock().entries.values_mut() {
            entry.stale = true;
        }
    }

    /// How many handles are held.
    pub(super) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// How many dedicated pools (and SQLite files) are open, held by the router or by
    /// handles still in use.
    pub(super) fn open_pools(&self) -> usize {
        self.pools.load(Ordering::SeqCst)
    }
}
