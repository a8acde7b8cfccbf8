//! The newest events, for the capped `events` list.
//!
//! "Newest" is by event time, ties broken by event id: a total order that
//! does not depend on arrival order, so the list after a crash and replay is
//! exactly the list of an uninterrupted run. [`RecentEvents`] keeps the
//! `capacity` greatest entries; evicted buffers are reused for new entries,
//! so a steady stream of candidates does not allocate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use compact_str::CompactString;

use crate::records::RecentEvent;

/// Heap entry ordered by (timestamp, event id).
#[derive(Debug, PartialEq, Eq)]
struct Ranked(RecentEvent);

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.key().cmp(&other.0.key())
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The `capacity` newest events offered so far.
#[derive(Debug)]
pub struct RecentEvents {
    capacity: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
}

impl RecentEvents {
    /// Keeps at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, heap: BinaryHeap::with_capacity(capacity + 1) }
    }

    /// Whether an event with this key would be kept.
    #[inline]
    pub fn admits(&self, timestamp: i64, event_id: &str) -> bool {
        self.capacity > 0
            && (self.heap.len() < self.capacity
                || self.heap.peek().is_some_and(|Reverse(min)| (timestamp, event_id) > min.0.key()))
    }

    /// Offers an event by reference, copying it only if it is kept.
    #[inline]
    pub fn offer(&mut self, timestamp: i64, event_id: &str, json: &[u8]) {
        if !self.admits(timestamp, event_id) {
            return;
        }
        let mut entry = if self.heap.len() >= self.capacity {
            // Reuse the evicted entry's allocations.
            self.heap.pop().map(|Reverse(Ranked(e))| e).unwrap_or_else(empty)
        } else {
            empty()
        };
        entry.timestamp = timestamp;
        entry.event_id.clear();
        entry.event_id.push_str(event_id);
        entry.json.clear();
        entry.json.extend_from_slice(json);
        self.heap.push(Reverse(Ranked(entry)));
    }

    /// Offers an owned event.
    pub fn insert(&mut self, event: RecentEvent) {
        if self.admits(event.timestamp, &event.event_id) {
            if self.heap.len() >= self.capacity {
                self.heap.pop();
            }
            self.heap.push(Reverse(Ranked(event)));
        }
    }

    /// Removes and returns every kept event, in no particular order.
    pub fn drain(&mut self) -> impl Iterator<Item = RecentEvent> + '_ {
        self.heap.drain().map(|Reverse(Ranked(e))| e)
    }

    /// The kept events, newest first.
    pub fn newest_first(&self) -> Vec<&RecentEvent> {
        let mut events: Vec<&RecentEvent> = self.heap.iter().map(|Reverse(Ranked(e))| e).collect();
        events.sort_unstable_by(|a, b| b.key().cmp(&a.key()));
        events
    }

    /// Number of kept events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

fn empty() -> RecentEvent {
    RecentEvent { timestamp: 0, event_id: CompactString::default(), json: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_by_time_then_id() {
        let mut recent = RecentEvents::new(3);
        for (ts, id) in [(5, "a"), (1, "b"), (9, "c"), (5, "d"), (7, "e"), (5, "b")] {
            recent.offer(ts, id, id.as_bytes());
        }
        let kept: Vec<_> =
            recent.newest_first().iter().map(|e| (e.timestamp, e.event_id.to_string())).collect();
        assert_eq!(kept, [(9, "c".into()), (7, "e".into()), (5, "d".into())]);
    }

    #[test]
    fn order_of_arrival_does_not_matter() {
        let events: Vec<(i64, String)> =
            (0..100).map(|i| ((i * 37) % 50, format!("e{i}"))).collect();
        let mut forward = RecentEvents::new(10);
        let mut backward = RecentEvents::new(10);
        for (ts, id) in &events {
            forward.offer(*ts, id, b"{}");
        }
        for (ts, id) in events.iter().rev() {
            backward.insert(RecentEvent {
                timestamp: *ts,
                event_id: id.as_str().into(),
                json: b"{}".to_vec(),
            });
        }
        assert_eq!(forward.newest_first(), backward.newest_first());
    }
}
