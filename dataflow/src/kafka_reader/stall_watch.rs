//! Finds partitions the Kafka consumer stopped delivering.
//!
//! After a broker outage a consumer can keep a partition in a fetch state
//! it does not leave (librdkafka issues #4492 and #2625 describe partitions
//! stuck after leader and epoch changes): the partition's log end moves on,
//! the job's position does not, and results silently miss the events after
//! it. Nothing fails, so nothing else would notice.
//!
//! A partition is *stalled* when, for [`StallWatch`]'s timeout, neither its
//! position nor its high watermark moved although the high watermark was
//! above the position, and the consumer's queue ran dry at least once
//! between checks (the worker was asking for more, not busy with other
//! partitions' messages). The reader then assigns the partition again at
//! its position, which gives it a fresh fetch state. The position given to
//! the watch includes what the consumer passed without delivering
//! (transaction markers), so a partition that ends in a commit marker is
//! not behind; one that ends in an aborted transaction can look behind for
//! good, so a partition is restarted at most once per high watermark.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::assignment::TopicPartition;

/// How long a partition may stay behind without delivering anything.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What is known about one partition.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// The position when last seen.
    next_offset: i64,
    /// The high watermark when last seen.
    high: Option<i64>,
    /// Since when the partition has been behind with nothing moving.
    behind_since: Option<Instant>,
    /// The high watermark at the last restart.
    restarted_at: Option<i64>,
}

/// One partition as a check sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The partition.
    pub tp: &'a TopicPartition,
    /// The next offset the job will read.
    pub next_offset: i64,
    /// Kafka's newest known high watermark, if known.
    pub high: Option<i64>,
}

/// Per-partition progress of one worker's reader.
#[derive(Debug)]
pub struct StallWatch {
    timeout: Duration,
    progress: HashMap<TopicPartition, Progress>,
}

impl StallWatch {
    /// A watch that calls a partition stalled after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout, progress: HashMap::new() }
    }

    /// Looks at every partition at `now`; `drained` says whether the
    /// consumer's queue ran dry since the last check. Returns the stalled
    /// partitions, which the caller restarts.
    pub fn check<'a>(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = Observed<'a>>,
        drained: bool,
    ) -> Vec<TopicPartition> {
        let mut stalled = Vec::new();
        for Observed { tp, next_offset, high } in partitions {
            let progress = self.progress.entry(tp.clone()).or_insert(Progress {
                next_offset,
                high,
                behind_since: None,
                restarted_at: None,
            });
            let behind = high.is_some_and(|high| high > next_offset);
            let unchanged = progress.next_offset == next_offset && progress.high == high;
            (progress.next_offset, progress.high) = (next_offset, high);
            if !(unchanged && behind && drained) {
                // New data, a new position, nothing to read or a busy
                // consumer: the wait starts again.
                progress.behind_since = (behind && drained).then_some(now);
                continue;
            }
            let since = *progress.behind_since.get_or_insert(now);
            if now.duration_since(since) >= self.timeout && progress.restarted_at != high {
                progress.restarted_at = high;
                progress.behind_since = None;
                stalled.push(tp.clone());
            }
        }
        stalled
    }

    /// Forgets what is known of `partitions` (their restart failed): each
    /// is watched afresh, and restarted again after a timeout.
    pub fn forget(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.progress.remove(tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> TopicPartition {
        TopicPartition { topic: "view-events".into(), partition: 2 }
    }

    fn at(tp: &TopicPartition, next_offset: i64, high: i64) -> [Observed<'_>; 1] {
        [Observed { tp, next_offset, high: Some(high) }]
    }

    #[test]
    fn a_partition_behind_and_not_moving_for_the_timeout_is_stalled_once_per_high_watermark() {
        let (tp, start) = (tp(), Instant::now());
        let mut watch = StallWatch::new(Duration::from_secs(30));
        let secs = |s| start + Duration::from_secs(s);
        assert!(watch.check(secs(0), at(&tp, 100, 150), true).is_empty());
        assert!(watch.check(secs(10), at(&tp, 100, 150), true).is_empty());
        assert!(watch.check(secs(29), at(&tp, 100, 150), true).is_empty());
        assert_eq!(watch.check(secs(40), at(&tp, 100, 150), true), vec![tp.clone()]);
        // Still there at the same high watermark: not restarted again.
        assert!(watch.check(secs(80), at(&tp, 100, 150), true).is_empty());
        assert!(watch.check(secs(200), at(&tp, 100, 150), true).is_empty());
        // The log grew and the position still does not move: once more,
        // a timeout after the growth was seen.
        assert!(watch.check(secs(210), at(&tp, 100, 170), true).is_empty());
        assert!(watch.check(secs(230), at(&tp, 100, 170), true).is_empty());
        assert_eq!(watch.check(secs(245), at(&tp, 100, 170), true), vec![tp.clone()]);
        // That restart failed: watched afresh, restarted after a timeout
        // at the same high watermark.
        watch.forget(std::slice::from_ref(&tp));
        assert!(watch.check(secs(250), at(&tp, 100, 170), true).is_empty());
        assert_eq!(watch.check(secs(280), at(&tp, 100, 170), true), vec![tp]);
    }

    #[test]
    fn moving_caught_up_or_busy_partitions_are_not_stalled() {
        let (tp, start) = (tp(), Instant::now());
        let mut watch = StallWatch::new(Duration::from_secs(30));
        let secs = |s| start + Duration::from_secs(s);
        // Moving, however slowly.
        for (s, next) in [(0, 100), (20, 101), (40, 102), (60, 103)] {
            assert!(watch.check(secs(s), at(&tp, next, 500), true).is_empty());
        }
        // Caught up.
        for s in [70, 100, 130] {
            assert!(watch.check(secs(s), at(&tp, 500, 500), true).is_empty());
        }
        // Behind while the consumer always had other messages to give.
        for s in [140, 170, 200, 230] {
            assert!(watch.check(secs(s), at(&tp, 500, 900), false).is_empty());
        }
        // No high watermark known.
        let unknown = [Observed { tp: &tp, next_offset: 500, high: None }];
        assert!(watch.check(secs(300), unknown, true).is_empty());
        assert!(watch.check(secs(400), unknown, true).is_empty());
    }
}
