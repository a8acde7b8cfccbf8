//! [`CountChange`]: what the counting aggregates tell the leaderboards.
//!
//! The leaderboards never see events. The aggregates that own the counts
//! (unique visitors per day and product, event weight per day and tag)
//! report each count that changed in a batch once, from its value before
//! the batch to its value after it ([`ChangeLog`]), so the differential
//! fragment's input grows with the changed counts, not with the events.
//! A restore reports every count in state as a change from zero, so the
//! fragment is rebuilt from the checkpointed counts.

use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::day::Day;

/// One day's count of `id` went from `old` to `new` (0: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountChange<I> {
    /// The day counted.
    pub day: Day,
    /// What is counted: a product or a tag.
    pub id: I,
    /// The count before.
    pub old: u64,
    /// The count after.
    pub new: u64,
}

impl<I> CountChange<I> {
    /// A count of `count` appearing (a restored count, or a first event).
    pub fn appeared(day: Day, id: I, count: u64) -> Self {
        Self { day, id, old: 0, new: count }
    }

    /// A count of `count` leaving (its day expired).
    pub fn left(day: Day, id: I, count: u64) -> Self {
        Self { day, id, old: count, new: 0 }
    }
}

/// The counts changed within one batch: the first old and last new value
/// of each.
#[derive(Debug)]
pub struct ChangeLog<I> {
    changed: FxHashMap<(Day, I), (u64, u64)>,
}

impl<I> Default for ChangeLog<I> {
    fn default() -> Self {
        Self { changed: FxHashMap::default() }
    }
}

impl<I: Hash + Eq> ChangeLog<I> {
    /// `(day, id)`'s count went from `old` to `new`.
    pub fn note(&mut self, day: Day, id: I, old: u64, new: u64) {
        self.changed.entry((day, id)).or_insert((old, new)).1 = new;
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }

    /// Moves one change per count that differs from its start into `out`.
    pub fn drain_into(&mut self, out: &mut Vec<CountChange<I>>) {
        for ((day, id), (old, new)) in self.changed.drain() {
            if old != new {
                out.push(CountChange { day, id, old, new });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reports_each_count_once_from_first_to_last() {
        let mut log = ChangeLog::default();
        log.note(Day(1), "p1", 0, 1);
        log.note(Day(1), "p1", 1, 2);
        log.note(Day(1), "p2", 4, 5);
        log.note(Day(2), "p1", 3, 3);
        let mut out = Vec::new();
        log.drain_into(&mut out);
        out.sort_by_key(|c| (c.day, c.id));
        assert_eq!(
            out,
            [
                CountChange { day: Day(1), id: "p1", old: 0, new: 2 },
                CountChange { day: Day(1), id: "p2", old: 4, new: 5 },
            ]
        );
        assert!(log.is_empty());
    }
}
