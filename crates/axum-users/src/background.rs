//! Work that runs after the answer was sent: the lookups, tokens, hooks and e-mails of
//! forgot-password and request-verify-token, and what hooks spawn. Tracked by tokio-util's
//! `TaskTracker`, so that a shutdown (or a test) can wait until every started job has finished.

use std::future::Future;
use std::sync::Arc;

use tokio_util::task::TaskTracker;

#[derive(Debug, Clone, Default)]
pub(crate) struct Background {
    tracker: TaskTracker,
    /// One waiter at a time: a waiter closes the tracker, waits and reopens it, and two that
    /// overlapped could reopen it under each other's wait.
    waiting: Arc<tokio::sync::Mutex<()>>,
}

impl Background {
    pub(crate) fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(job);
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
