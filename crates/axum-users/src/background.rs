//! Work that runs after the answer was sent: the lookups, tokens, hooks and e-mails of
//! forgot-password and request-verify-token, and what hooks spawn. Tracked by tokio-util's
//! `TaskTracker`, so that a shutdown (or a test) can wait until every started job has finished,
//! and bounded: at most `limit` jobs at once, so that a flood of 202 answers (many clients, each
//! within its rate limit) or a mail server that stopped answering (every message retrying)
//! cannot grow the process without end. A job over the bound is dropped and logged.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// Jobs at once by default: far above what a healthy mail server keeps waiting, far below what
/// would strain memory (a job holds a user, a token and a message).
pub(crate) const DEFAULT_LIMIT: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct Background {
    tracker: TaskTracker,
    /// One waiter at a time: a waiter closes the tracker, waits and reopens it, and two that
    /// overlapped could reopen it under each other's wait.
    waiting: Arc<tokio::sync::Mutex<()>>,
    /// A permit per running job.
    slots: Arc<Semaphore>,
    limit: usize,
}

impl Default for Background {
    fn default() -> Self {
        Self::new(DEFAULT_LIMIT)
    }
}

impl Background {
    /// At most `limit` jobs at once (at least one, at most what a semaphore can count).
    pub(crate) fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            tracker: TaskTracker::new(),
            waiting: Arc::default(),
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Starts `job`, or drops it (with a warning) when `limit` jobs are already running.
    pub(crate) fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            crate::telemetry::count("axum_users_background_jobs_dropped_total");
            tracing::warn!(
                limit = self.limit,
                "background queue full: a job (e-mail, hook) was dropped"
            );
            return;
        };
        crate::telemetry::gauge("axum_users_background_jobs", 1.0);
        // Counted out however the job ends (a panic included).
        let running = Running;
        self.tracker.spawn(async move {
            job.await;
            drop((slot, running));
        });
    }

    /// Waits until every job spawned so far (and any they spawn meanwhile) has finished. Jobs
    /// may still be spawned while it waits: a closed tracker still tracks them.
    pub(crate) async fn idle(&self) {
        let _one_at_a_time = self.waiting.lock().await;
        self.tracker.close();
        self.tracker.wait().await;
        self.tracker.reopen();
    }
}

/// One job in the `axum_users_background_jobs` gauge, until dropped.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        crate::telemetry::gauge("axum_users_background_jobs", -1.0);
    }
}
