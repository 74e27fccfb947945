//! The background flush task shared by the batching sinks ([`super::BatchingSink`] and
//! [`crate::logs::BatchingLogSink`]).
//!
//! The task holds the sink's state strongly and waits on three things: a timer, a wake-up
//! from the hot path (too many pending entries), and a stop channel whose sender lives in
//! the sink's handle. When the handle is dropped the sender is dropped with it, the task
//! flushes what is pending one last time and ends, releasing the state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::FlushStats;
use crate::error::{Error, Result};

/// The shortest flush period (a zero period would make the timer spin).
const MIN_PERIOD: Duration = Duration::from_millis(10);

/// What the background task drives.
#[async_trait]
pub(crate) trait Batch: Send + Sync + 'static {
    /// Notified by the hot path when a flush should happen before the timer.
    fn wake(&self) -> &Notify;
    /// Writes what is pending. Errors are counted and traced by the implementation.
    async fn flush(&self) -> Result<()>;
    /// Runs after every successful flush made by the task (the log sink prunes from here).
    async fn after_flush(&self) {}
}

/// The handle of a running task: stops it when dropped.
pub(crate) struct Worker {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

impl Worker {
    /// Spawns the task on the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] when called outside a tokio runtime.
    pub(crate) fn spawn<B: Batch>(batch: Arc<B>, every: Duration) -> Result<Worker> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("a batching sink must be started inside a tokio runtime".into()))?;
        let (stop, mut stopped) = oneshot::channel::<()>();
        let every = every.max(MIN_PERIOD);
        let task = runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut failed = false;
            loop {
                if failed {
                    // After a failure wait for the timer, not for wake-ups: a full buffer
                    // must not turn into a retry loop against a database that is down.
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = ticks.tick() => {}
                    }
                } else {
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = ticks.tick() => {}
                        () = batch.wake().notified() => {}
                    }
                }
                // Errors are counted in the sink's stats and traced; the pending entries
                // are kept for the next flush.
                failed = batch.flush().await.is_err();
                if !failed {
                    batch.after_flush().await;
                }
            }
            // The handle was dropped or stopped: write what is left, then end.
            let _ = batch.flush().await;
        });
        Ok(Worker { stop: Mutex::new(Some(stop)), task: Mutex::new(Some(task)) })
    }

    /// Stops the task and waits for its last flush.
    pub(crate) async fn stop(&self) {
        let stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Counters behind [`FlushStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) recorded: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) statements: AtomicU64,
    pub(crate) rows: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) prunes: AtomicU64,
    pub(crate) pruned_rows: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, pending: u64) -> FlushStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FlushStats {
            recorded: get(&self.recorded),
            dropped: get(&self.dropped),
            flushes: get(&self.flushes),
            statements: get(&self.statements),
            rows: get(&self.rows),
            failures: get(&self.failures),
            prunes: get(&self.prunes),
            pruned_rows: get(&self.pruned_rows),
            pending,
        }
    }
}

/// Tells whether a sink's background task still holds its state.
///
/// Obtained from [`super::BatchingSink::probe`] or
/// [`crate::logs::BatchingLogSink::probe`]; it does not keep the sink alive.
#[derive(Debug, Clone)]
pub struct TaskProbe(pub(crate) Weak<dyn std::any::Any + Send + Sync>);

impl TaskProbe {
    /// Whether the sink or its task still exists. After the sink is dropped this turns
    /// `false` once the task has made its last flush and ended.
    pub fn is_running(&self) -> bool {
        self.0.strong_count() > 0
    }
}
