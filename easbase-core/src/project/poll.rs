//! Cross-process cache invalidation on MySQL / MariaDB, which has no `LISTEN/NOTIFY`:
//! each change ([`PlatformEvent`]) is inserted into the platform table `platform_events`
//! **in the same transaction as the change**, so it exists if and only if the change
//! commits; every process polls the table for rows past the last one it saw (every
//! [`PlatformConfig::event_poll_interval`](super::PlatformConfig::event_poll_interval),
//! one indexed `select` on the primary key) and applies them to its caches. Events older
//! than an hour are deleted by whichever process polls next. Nothing is missed while a
//! process cannot reach the database: it reads from where it stopped once it can again.
//! So a change made by one process is seen by the others within one poll interval (plus
//! the statement), not at once as with PostgreSQL's notifications.

use std::sync::Weak;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use easbase_schema::Schema;
use sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};

use super::events::PlatformEvent;
use super::store::Store;
use super::{Inner, Platform};
use crate::db::Stmt;
use crate::error::{Error, Result};

/// The events table (MySQL platforms only).
pub(super) const EVENTS_TABLE: &str = "platform_events";

const EVENTS_SCHEMA: &str = r#"{ "tables": [
  { "name": "platform_events", "comment": "EasBase changes other processes must apply to their caches (MySQL)",
    "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "at", "type": "bigint", "required": true },
      { "name": "payload", "type": "varchar(1000)", "required": true }
    ],
    "indexes": [ { "columns": ["at"] } ] }
] }"#;

/// How long events are kept.
const KEEP_SECS: i64 = 3600;
/// Events read per poll at most (the next poll reads on).
const PAGE: u64 = 1000;
/// Polls between two deletions of old events.
const PRUNE_EVERY: u32 = 60;

/// The events table, for the platform schema.
pub(super) fn schema() -> Schema {
    Schema::from_json(EVENTS_SCHEMA).unwrap_or_default()
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The insert that announces `event`, to run in the change's transaction.
pub(super) fn insert(store: &Store, event: &PlatformEvent) -> Result<Stmt> {
    let payload =
        serde_json::to_string(event).map_err(|e| Error::Config(format!("cannot encode an event: {e}")))?;
    let q = Query::insert()
        .into_table(Alias::new(EVENTS_TABLE))
        .columns([Alias::new("at"), Alias::new("payload")])
        .values_panic([now_secs().into(), payload.into()])
        .to_owned();
    Ok(crate::db::BuildStmt::build_for(&q, store.dialect))
}

/// Starts polling for `platform` (its listener slot holds the task, aborted with it).
pub(super) fn spawn(platform: &Platform) {
    let weak = std::sync::Arc::downgrade(&platform.inner);
    let every = platform.inner.config.event_poll_interval.max(Duration::from_millis(10));
    let task = tokio::spawn(run(weak, every));
    let mut slot = platform.inner.events.listener.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = slot.replace(task) {
        old.abort();
    }
}

async fn run(weak: Weak<Inner>, every: Duration) {
    let mut last: Option<i64> = None;
    let mut polls = 0u32;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        match poll(&inner, &mut last, polls.is_multiple_of(PRUNE_EVERY)).await {
            Ok(()) => inner.events.listening.store(true, std::sync::atomic::Ordering::SeqCst),
            Err(e) => {
                inner.events.listening.store(false, std::sync::atomic::Ordering::SeqCst);
                tracing::warn!(code = e.code(), error = %e, "polling platform events failed; retrying");
            }
        }
        drop(inner);
        polls = polls.wrapping_add(1);
        tokio::time::sleep(every).await;
    }
}

/// Reads the events past `last` (on the first call: only where the table ends now) and
/// applies those of other processes.
async fn poll(inner: &Inner, last: &mut Option<i64>, prune: bool) -> Result<()> {
    let db = &inner.db;
    let dialect = db.dialect();
    let Some(after) = *last else {
        let q = Query::select()
            .expr_as(
                Func::coalesce([Func::max(Expr::col(Alias::new("id"))).into(), Expr::val(0i64)]),
                Alias::new("n"),
            )
            .from(Alias::new(EVENTS_TABLE))
            .to_owned();
        let rows = db.query(crate::db::BuildStmt::build_for(&q, dialect)).await?;
        *last = Some(rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(0));
        return Ok(());
    };
    if prune {
        let q = Query::delete()
            .from_table(Alias::new(EVENTS_TABLE))
            .and_where(Expr::col(Alias::new("at")).lt(now_secs() - KEEP_SECS))
            .to_owned();
        db.execute(crate::db::BuildStmt::build_for(&q, dialect)).await?;
    }
    let q = Query::select()
        .columns([Alias::new("id"), Alias::new("payload")])
        .from(Alias::new(EVENTS_TABLE))
        .and_where(Expr::col(Alias::new("id")).gt(after))
        .order_by(Alias::new("id"), Order::Asc)
        .limit(PAGE)
        .to_owned();
    for row in db.query(crate::db::BuildStmt::build_for(&q, dialect)).await? {
        let id = row.int("id")?;
        match serde_json::from_str::<PlatformEvent>(&row.text("payload")?) {
            Ok(event) => inner.apply_event_inner(&event, true),
            // Written by a newer version: its kinds are unknown here. Forget everything.
            Err(_) => inner.clear_caches(),
        }
        *last = Some(id);
    }
    Ok(())
}
