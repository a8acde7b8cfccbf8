//! [`CommitTicket`]: how a writer into a [`StateBatch`](crate::StateBatch)
//! learns that the batch was committed, and [`CommitWaker`], how it is
//! woken then.
//!
//! A table keeps every entry a snapshot wrote until that snapshot's batch
//! is committed (a miss would read a stale value from the store before);
//! the ticket says when it may drop them, and the waker wakes an operator
//! that waits for the commit to get its table back within its budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Called on the committing thread once a batch is committed, to wake
/// whoever waits for it (a timely operator's `SyncActivator`).
#[derive(Clone)]
pub struct CommitWaker(Arc<dyn Fn() + Send + Sync>);

impl CommitWaker {
    /// A waker calling `wake`.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Arc::new(wake))
    }
}

impl std::fmt::Debug for CommitWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitWaker")
    }
}

/// Tells whoever wrote into a [`StateBatch`](crate::StateBatch) when the
/// batch was committed: from then on, the store returns what was written,
/// so a cache may drop its copy (see `Table::evict_clean`).
#[derive(Debug, Clone, Default)]
pub struct CommitTicket {
    committed: Arc<AtomicBool>,
    /// Called once the batch is committed.
    wake: Option<CommitWaker>,
}

impl CommitTicket {
    /// A ticket not committed yet, calling `wake` (if any) once it is.
    pub(crate) fn new(wake: Option<CommitWaker>) -> Self {
        Self { committed: Arc::default(), wake }
    }

    /// Whether the batch holding this ticket has been committed.
    #[must_use]
    pub fn is_committed(&self) -> bool {
        self.committed.load(Ordering::Acquire)
    }

    /// Marks `tickets` committed, then calls their wakers.
    pub(crate) fn mark_all(tickets: &[Self]) {
        for ticket in tickets {
            ticket.committed.store(true, Ordering::Release);
        }
        for wake in tickets.iter().filter_map(|ticket| ticket.wake.as_ref()) {
            (wake.0)();
        }
    }
}
