//! How often a worker's operators write to Redis while its input is behind.
//!
//! Operators write their changes out whenever the worker's Redis writer is
//! idle (`redis_sink/mod.rs`), which keeps results within milliseconds of the
//! input when the job keeps up. While it reads a backlog, that rule writes a
//! user changed in every few seconds of the backlog again and again: a
//! 5 M-event catch-up wrote each of its users about three times, and the
//! Redis server spent about three quarters as much CPU as the job's own
//! workers on the same two cores (`perf record -a`: 28.9 % against 39.6 %
//! of the samples). Results are already as old as the backlog then, so the writes can
//! wait a little longer to coalesce more.
//!
//! [`WritePace`] is that rule, shared by a worker's source and its
//! operators. The source notes how old the newest message it read was
//! (its Kafka timestamp, set when it was produced), or that it found
//! nothing to read; operators then write at most every tenth of that age,
//! and never less often than every [`MAX_WRITE_INTERVAL`]. A job that keeps
//! up reads messages milliseconds old, so its writes are not delayed; one
//! a minute behind writes every 6 s; each write adds at most a tenth to the
//! results' age. Every checkpoint and the end of the input still write
//! everything at once (`epochs.rs`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::epochs::WriteOut;
use crate::writer::Writer;

/// The longest wait between two write-outs of an operator.
pub const MAX_WRITE_INTERVAL: Duration = Duration::from_secs(10);
/// Write-outs wait at most this fraction of the input's age.
const AGE_FRACTION: u32 = 10;

/// How far behind a worker's input is, as its source last saw it.
#[derive(Debug, Clone, Default)]
pub struct WritePace {
    behind: Rc<Cell<Duration>>,
}

impl WritePace {
    /// Input that is not behind: operators write whenever Redis is ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes the newest message read, produced at `produced_ms` (ms since
    /// the Unix epoch; a clock ahead of ours counts as not behind).
    pub fn read_message_of(&self, produced_ms: i64, now_ms: i64) {
        let behind = u64::try_from(now_ms.saturating_sub(produced_ms)).unwrap_or(0);
        self.behind.set(Duration::from_millis(behind));
    }

    /// Notes that the source found nothing to read: it is caught up.
    pub fn caught_up(&self) {
        self.behind.set(Duration::ZERO);
    }

    /// The shortest time between two write-outs of an operator now.
    pub fn interval(&self) -> Duration {
        (self.behind.get() / AGE_FRACTION).min(MAX_WRITE_INTERVAL)
    }
}

/// One operator's side of the pace: when it last wrote.
#[derive(Debug, Default)]
pub struct WriteGate {
    last: Option<Instant>,
}

impl WriteGate {
    /// Whether an operator with changes to write should write them out now,
    /// recording the write-out if so: always when `when` is
    /// [`WriteOut::Now`]; otherwise once the writer's interval has passed
    /// since the last write-out and its Redis connection is ready for more.
    pub fn open(&mut self, when: WriteOut, writer: &dyn Writer) -> bool {
        let open =
            when == WriteOut::Now || (self.due(writer.write_interval()) && writer.redis_ready());
        if open {
            self.last = Some(Instant::now());
        }
        open
    }

    /// Whether `interval` has passed since the last write-out (or there was
    /// none).
    fn due(&self, interval: Duration) -> bool {
        self.last.is_none_or(|last| last.elapsed() >= interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_a_tenth_of_the_age_up_to_the_maximum() {
        let pace = WritePace::new();
        assert_eq!(pace.interval(), Duration::ZERO);
        pace.read_message_of(1_000, 1_250);
        assert_eq!(pace.interval(), Duration::from_millis(25));
        pace.read_message_of(0, 60_000);
        assert_eq!(pace.interval(), Duration::from_secs(6));
        pace.read_message_of(0, 7 * 86_400_000);
        assert_eq!(pace.interval(), MAX_WRITE_INTERVAL);
        pace.caught_up();
        assert_eq!(pace.interval(), Duration::ZERO);
    }

    #[test]
    fn a_message_from_the_future_is_not_behind() {
        let pace = WritePace::new();
        pace.read_message_of(5_000, 1_000);
        assert_eq!(pace.interval(), Duration::ZERO);
    }

    #[test]
    fn a_clone_shares_the_pace() {
        let source = WritePace::new();
        let writer = source.clone();
        source.read_message_of(0, 20_000);
        assert_eq!(writer.interval(), Duration::from_secs(2));
    }

    /// A writer whose readiness and interval a test sets.
    struct Paced {
        ready: bool,
        interval: Duration,
    }

    impl Writer for Paced {
        fn redis(&self, _batch: crate::redis_sink::RedisBatch) {}
        fn redis_ready(&self) -> bool {
            self.ready
        }
        fn write_interval(&self) -> Duration {
            self.interval
        }
        fn interest_tags(&self, _user: &str, _json: &[u8]) {}
    }

    #[test]
    fn a_gate_opens_when_due_and_ready_or_when_told_to() {
        let hour = Duration::from_secs(3600);
        let mut gate = WriteGate::default();
        let busy = Paced { ready: false, interval: Duration::ZERO };
        assert!(!gate.open(WriteOut::IfWriterReady, &busy));
        assert!(gate.open(WriteOut::IfWriterReady, &Paced { ready: true, interval: hour }));
        let ready_but_paced = Paced { ready: true, interval: hour };
        assert!(!gate.open(WriteOut::IfWriterReady, &ready_but_paced));
        assert!(gate.open(WriteOut::Now, &busy));
        assert!(
            gate.open(WriteOut::IfWriterReady, &Paced { ready: true, interval: Duration::ZERO })
        );
    }

    #[test]
    fn a_gate_is_due_first_and_after_the_interval() {
        let mut gate = WriteGate::default();
        assert!(gate.due(Duration::from_secs(3600)));
        gate.last = Some(Instant::now());
        assert!(!gate.due(Duration::from_secs(3600)));
        assert!(gate.due(Duration::ZERO));
        std::thread::sleep(Duration::from_millis(5));
        assert!(gate.due(Duration::from_millis(5)));
    }
}
