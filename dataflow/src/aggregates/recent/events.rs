//! The newest events, for the capped `events` list.
//!
//! "Newest" is by event time, ties broken by event id and then by the
//! message's bytes: a total order that does not depend on arrival order, so
//! the list after a crash and replay is exactly the list of an
//! uninterrupted run. The same message delivered twice (a client's retried
//! batch) is one entry: the kept events are a set. [`RecentEvents`] keeps
//! the `capacity` greatest entries; an evicted entry's buffers are reused
//! for the next one, so a steady stream of candidates does not allocate.

use std::collections::BTreeSet;

use compact_str::CompactString;

use crate::records::RecentEvent;

/// Set entry ordered by (timestamp, event id, message).
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

/// The `capacity` newest distinct events offered so far.
#[derive(Debug)]
pub struct RecentEvents {
    capacity: usize,
    kept: BTreeSet<Ranked>,
    /// An evicted or repeated entry, whose buffers the next one reuses.
    spare: Option<RecentEvent>,
}

impl RecentEvents {
    /// Keeps at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, kept: BTreeSet::new(), spare: None }
    }

    /// Whether an event with this key would be kept (unless it is kept
    /// already).
    #[inline]
    pub fn admits(&self, timestamp: i64, event_id: &str, json: &[u8]) -> bool {
        self.capacity > 0
            && (self.kept.len() < self.capacity
                || self
                    .kept
                    .first()
                    .is_some_and(|oldest| (timestamp, event_id, json) > oldest.0.key()))
    }

    /// Offers an event by reference, copying it only if it may be kept.
    #[inline]
    pub fn offer(&mut self, timestamp: i64, event_id: &str, json: &[u8]) {
        if !self.admits(timestamp, event_id, json) {
            return;
        }
        let mut entry = self.spare.take().unwrap_or_else(empty);
        entry.timestamp = timestamp;
        entry.event_id.clear();
        entry.event_id.push_str(event_id);
        entry.json.clear();
        entry.json.extend_from_slice(json);
        self.keep(entry);
    }

    /// Offers an owned event; returns whether the kept events changed.
    pub fn insert(&mut self, event: RecentEvent) -> bool {
        self.admits(event.timestamp, &event.event_id, &event.json) && self.keep(event)
    }

    /// Keeps `entry` unless it is kept already, evicting the oldest beyond
    /// the capacity; returns whether the kept events changed.
    fn keep(&mut self, entry: RecentEvent) -> bool {
        if let Some(Ranked(same)) = self.kept.replace(Ranked(entry)) {
            self.spare = Some(same);
            return false;
        }
        if self.kept.len() > self.capacity {
            self.spare = self.kept.pop_first().map(|Ranked(oldest)| oldest);
        }
        true
    }

    /// Removes and returns every kept event, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = RecentEvent> + '_ {
        std::mem::take(&mut self.kept).into_iter().map(|Ranked(e)| e)
    }

    /// The kept events, newest first.
    pub fn newest_first(&self) -> Vec<&RecentEvent> {
        self.kept.iter().rev().map(|Ranked(e)| e).collect()
    }

    /// Number of kept events.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
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

    #[test]
    fn the_same_message_twice_is_kept_once() {
        let mut recent = RecentEvents::new(3);
        for (ts, id, json) in [(5, "a", "x"), (5, "a", "x"), (5, "a", "y"), (4, "b", "x")] {
            recent.offer(ts, id, json.as_bytes());
        }
        assert!(!recent.insert(RecentEvent {
            timestamp: 5,
            event_id: "a".into(),
            json: b"y".to_vec()
        }));
        let kept: Vec<_> = recent
            .newest_first()
            .iter()
            .map(|e| (e.timestamp, e.event_id.to_string(), e.json.clone()))
            .collect();
        // Same time and id, different bytes: two events, in byte order.
        assert_eq!(
            kept,
            [
                (5, "a".into(), b"y".to_vec()),
                (5, "a".into(), b"x".to_vec()),
                (4, "b".into(), b"x".to_vec())
            ]
        );
        assert_eq!(recent.drain().count(), 3);
        assert!(recent.is_empty());
    }
}
