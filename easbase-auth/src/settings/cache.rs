//! The cache of projects' effective settings in an [`Auth`](crate::Auth) value: entries
//! live for a TTL; a change made through the same `Auth` drops the entry at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use easbase_core::context::ProjectId;

use super::Effective;

/// Entries kept before expired ones are swept (and all, if none has expired).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct SettingsCache {
    ttl: Duration,
    entries: Mutex<HashMap<ProjectId, (Instant, Arc<Effective>)>>,
}

impl SettingsCache {
    pub(crate) fn new(ttl: Duration) -> SettingsCache {
        SettingsCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, project: &ProjectId) -> Option<Arc<Effective>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(project).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, e)| e.clone())
    }

    pub(crate) fn put(&self, project: &ProjectId, effective: Arc<Effective>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(project.clone(), (Instant::now(), effective));
    }

    pub(crate) fn invalidate(&self, project: &ProjectId) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(project);
    }
}
