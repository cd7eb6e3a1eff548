//! Work that runs after the answer was sent: the lookups, tokens, hooks and e-mails of
//! forgot-password and request-verify-token. Counted, so that a shutdown (or a test) can wait
//! until every started job has finished.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Debug, Clone, Default)]
pub(crate) struct Background {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    pending: AtomicUsize,
    idle: Notify,
}

/// Counts a job as finished when dropped, even when it panicked.
struct Done(Arc<Inner>);

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Background {
    pub(crate) fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.inner.pending.fetch_add(1, Ordering::AcqRel);
        let done = Done(Arc::clone(&self.inner));
        tokio::spawn(async move {
            let _done = done;
            job.await;
        });
    }

    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}
