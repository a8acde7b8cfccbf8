//! [`Deliveries`]: which messages a producer has sent that Kafka has not
//! settled yet, so that a checkpoint can wait for its side outputs.
//!
//! Each message gets a sequence number when it is queued; Kafka's delivery
//! reports settle them, in any order across partitions. The tracker keeps
//! the length of the settled prefix, so "every message queued before this
//! point is settled" is one comparison. A checkpoint takes a
//! [`DeliveryBarrier`] at its boundary and waits on it (on the checkpoint
//! thread, not the worker): dead letters and interest-tag messages whose
//! events a checkpoint covers are then acknowledged by Kafka, never lost in
//! a producer queue when the process dies. A failed delivery makes the
//! barrier fail, which fails the checkpoint: the job restarts from the one
//! before and produces those messages again (at least once).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

#[derive(Debug, Default)]
struct Settled {
    /// Every sequence number below it is settled.
    prefix: u64,
    /// Settled numbers above the prefix.
    ahead: BinaryHeap<Reverse<u64>>,
    /// Deliveries that failed so far.
    failed: u64,
}

/// The delivery state of one producer's messages.
#[derive(Debug, Default)]
pub struct Deliveries {
    queued: AtomicU64,
    settled: Mutex<Settled>,
    changed: Condvar,
}

/// A point in a producer's stream: every message queued before it.
#[derive(Debug)]
pub struct DeliveryBarrier {
    deliveries: Arc<Deliveries>,
    queued: u64,
}

/// Messages before a barrier that Kafka refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} output message(s) could not be delivered to Kafka")]
pub struct Undelivered(pub u64);

impl Deliveries {
    /// The sequence number of the next message to queue.
    pub fn next(&self) -> u64 {
        self.queued.fetch_add(1, Ordering::AcqRel)
    }

    /// Message `sequence` was acknowledged (`ok`) or failed.
    pub fn settle(&self, sequence: u64, ok: bool) {
        let mut settled = self.settled.lock().unwrap_or_else(PoisonError::into_inner);
        if !ok {
            settled.failed += 1;
        }
        if sequence == settled.prefix {
            settled.prefix += 1;
            while settled.ahead.peek() == Some(&Reverse(settled.prefix)) {
                settled.ahead.pop();
                settled.prefix += 1;
            }
            self.changed.notify_all();
        } else {
            settled.ahead.push(Reverse(sequence));
        }
    }

    /// Failed deliveries so far.
    pub fn failed(&self) -> u64 {
        self.settled.lock().unwrap_or_else(PoisonError::into_inner).failed
    }
}

impl DeliveryBarrier {
    /// A barrier after every message `deliveries` has queued so far.
    pub fn new(deliveries: &Arc<Deliveries>) -> Self {
        let queued = deliveries.queued.load(Ordering::Acquire);
        Self { deliveries: Arc::clone(deliveries), queued }
    }

    /// Waits until every message before the barrier is settled; returns the
    /// failures so far (compare with the previous barrier's to see new ones).
    pub fn wait(self) -> u64 {
        let deliveries = &self.deliveries;
        let settled = deliveries.settled.lock().unwrap_or_else(PoisonError::into_inner);
        let settled = deliveries
            .changed
            .wait_while(settled, |s| s.prefix < self.queued)
            .unwrap_or_else(PoisonError::into_inner);
        settled.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_barrier_waits_for_every_earlier_message_in_any_order() {
        let deliveries = Arc::new(Deliveries::default());
        let sequences: Vec<u64> = (0..4).map(|_| deliveries.next()).collect();
        let barrier = DeliveryBarrier::new(&deliveries);
        let later = deliveries.next();
        let (done_tx, done) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || done_tx.send(barrier.wait()).unwrap());
        // Out of order, and a later message settled first: not enough.
        for sequence in [later, sequences[3], sequences[1], sequences[0]] {
            deliveries.settle(sequence, true);
        }
        let short = std::time::Duration::from_millis(50);
        assert!(done.recv_timeout(short).is_err(), "the barrier passed with message 2 unsettled");
        deliveries.settle(sequences[2], false);
        assert_eq!(done.recv_timeout(std::time::Duration::from_secs(5)).unwrap(), 1);
        waiter.join().unwrap();
        assert_eq!(deliveries.failed(), 1);
    }

    #[test]
    fn a_barrier_with_nothing_before_it_passes_at_once() {
        let deliveries = Arc::new(Deliveries::default());
        assert_eq!(DeliveryBarrier::new(&deliveries).wait(), 0);
    }
}
