//! A user's profile state and how events change it.
//!
//! The state is exactly what the Redis outputs need: each tag's score, the
//! number of events per type and the newest event time, plus the user's
//! interned id (see `user_ids.rs`). Top-N tags are not stored but derived
//! when the profile is written, so they can never disagree with the scores.
//! Tags are interned ([`Ustr`]), so a (tag, score) pair is 16 bytes and
//! matching an event's tag is a pointer comparison; in RocksDB they are
//! stored by name. The profile also remembers its recent event ids
//! (`seen_ids.rs`), so that an event delivered twice counts once.

use compact_str::CompactString;
use model::EventType;
use model::profile::tag_order;
use serde::{Deserialize, Serialize};
use ustr::Ustr;

use super::seen_ids::SeenIds;
use super::user_ids::UserId;
use crate::records::ProfileEvent;
use crate::weights::Weights;

/// The profiles of one worker, by user name. Boxed: the table's hash map
/// holds its values inline in every bucket, empty ones included, and a
/// profile is about 200 bytes; a box keeps a bucket at 48 (a heap profile
/// of a 1 M-user catch-up found the map's buckets its largest allocation,
/// docs/benchmarks.md).
pub type ProfileTable = state::Table<CompactString, Box<UserProfile>>;

/// One user's accumulated interests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// The user's interned id; `None` until the profile operator issues it
    /// at the user's first event.
    pub id: Option<UserId>,
    /// Tag → score, in first-seen order (users have few tags; a linear scan
    /// beats hashing at this size).
    pub scores: Vec<(Ustr, i64)>,
    /// Events seen per type, indexed by [`EventType::index`].
    pub counts: [u64; 3],
    /// Largest event timestamp seen (ms), or 0 before any event.
    pub last_event_at: i64,
    /// The top tags last published to `user-interest-tags-topic`, to publish
    /// only changes.
    pub published_top: Vec<Ustr>,
    /// Products purchased, sorted, each once.
    pub purchased: Vec<CompactString>,
    /// Ids of the events within `--dedupe-window` of the newest of their type.
    pub seen: SeenIds,
    /// Whether this process wrote the user's `UserInterestTag` field (then
    /// equal to `published_top`); not saved, so a restored profile is
    /// written again.
    #[serde(skip)]
    pub interest_written: bool,
}

/// Which of a profile's tags changed, by position in
/// [`UserProfile::scores`]: bit `i` for position `i` below 63, bit 63 for
/// every position from 63 on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangedTags(u64);

impl ChangedTags {
    /// Every tag.
    pub const ALL: Self = Self(u64::MAX);
    const OVERFLOW: usize = 63;

    /// Marks position `index`.
    #[inline]
    pub fn mark(&mut self, index: usize) {
        self.0 |= 1 << index.min(Self::OVERFLOW);
    }

    /// Adds `other`'s marks.
    #[inline]
    pub fn merge(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Whether position `index` is marked.
    #[inline]
    pub fn contains(self, index: usize) -> bool {
        self.0 & (1 << index.min(Self::OVERFLOW)) != 0
    }
}

/// Heap memory: the score, top-tag and purchase vectors (tags themselves are
/// interned, product ids mostly inline).
impl state::StateValue for UserProfile {
    fn heap_bytes(&self) -> usize {
        use std::mem::size_of_val;
        let purchased: usize = self
            .purchased
            .iter()
            .map(|p| if p.is_heap_allocated() { p.capacity() } else { 0 })
            .sum();
        self.scores.capacity() * size_of_val(&(Ustr::default(), 0_i64))
            + self.published_top.capacity() * size_of_val(&Ustr::default())
            + self.purchased.capacity() * size_of_val(&CompactString::default())
            + purchased
            + self.seen.heap_bytes()
    }
}

impl UserProfile {
    /// Whether `event` counts: `false` if its type and id were remembered
    /// within `window` ms of the user's newest event of that type (a
    /// duplicate, which must not be applied); otherwise remembers it.
    /// `None` turns deduplication off (and forgets what was remembered).
    #[inline]
    pub fn first_sighting(&mut self, event: &ProfileEvent, window: Option<i64>) -> bool {
        let Some(window) = window else {
            if !self.seen.is_empty() {
                self.seen.clear();
            }
            return true;
        };
        self.seen.first_sighting(event.kind.index(), &event.event_id, event.timestamp, window)
    }

    /// Adds one event; returns the tags it changed. Allocates only when the
    /// user meets a new tag.
    #[inline]
    pub fn apply(&mut self, event: &ProfileEvent, weights: &Weights) -> ChangedTags {
        let weight = weights.of(event.kind);
        self.counts[event.kind.index()] += 1;
        if let Some(product) = event.purchased()
            && let Err(at) = self.purchased.binary_search(product)
        {
            self.purchased.insert(at, product.clone());
        }
        self.last_event_at = self.last_event_at.max(event.timestamp);
        let mut changed = ChangedTags::default();
        for &tag in &event.tags {
            match self.scores.iter().position(|&(t, _)| t == tag) {
                Some(index) => {
                    self.scores[index].1 += weight;
                    changed.mark(index);
                }
                None => {
                    changed.mark(self.scores.len());
                    self.scores.push((tag, weight));
                }
            }
        }
        changed
    }

    /// The `n` best tags: highest score first, ties by tag name ascending.
    pub fn top_tags(&self, n: usize) -> Vec<&str> {
        // Selection into a sorted run of at most `n` (n is small, users have
        // tens of tags): no sort of every tag.
        let ranks_before = |a: &(Ustr, i64), b: &(Ustr, i64)| {
            tag_order((a.0.as_str(), a.1), (b.0.as_str(), b.1)).is_lt()
        };
        let mut best: Vec<&(Ustr, i64)> = Vec::with_capacity(n + 1);
        for entry in &self.scores {
            if best.len() == n && best.last().is_none_or(|worst| !ranks_before(entry, worst)) {
                continue;
            }
            let at = best.partition_point(|ranked| ranks_before(ranked, entry));
            best.insert(at, entry);
            best.truncate(n);
        }
        best.into_iter().map(|(tag, _)| tag.as_str()).collect()
    }

    /// Events seen of `kind`.
    pub fn count(&self, kind: EventType) -> u64 {
        self.counts[kind.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Tags;

    fn event(kind: EventType, timestamp: i64, tags: &[&str]) -> ProfileEvent {
        ProfileEvent {
            event_id: format!("e{timestamp}").into(),
            user: "u1".into(),
            kind,
            timestamp,
            tags: tags.iter().map(|t| Ustr::from(t)).collect::<Tags>(),
            product: format!("p{timestamp}").into(),
            day: crate::day::Day(0),
        }
    }

    #[test]
    fn scores_counts_and_last_event() {
        let weights = Weights::default();
        let mut profile = UserProfile::default();
        profile.apply(&event(EventType::View, 20, &["shoes", "nike"]), &weights);
        profile.apply(&event(EventType::Purchase, 10, &["shoes"]), &weights);
        profile.apply(&event(EventType::AddToCart, 15, &["hats"]), &weights);
        assert_eq!(profile.scores, [("shoes".into(), 6), ("nike".into(), 1), ("hats".into(), 3)]);
        assert_eq!(profile.id, None);
        assert_eq!(profile.counts, [1, 1, 1]);
        assert_eq!(profile.last_event_at, 20);
        assert_eq!(profile.purchased, ["p10"]);
    }

    #[test]
    fn apply_reports_the_tags_it_changed() {
        let weights = Weights::default();
        let mut profile = UserProfile::default();
        let first = profile.apply(&event(EventType::View, 1, &["a", "b", "c"]), &weights);
        assert!((0..3).all(|i| first.contains(i)) && !first.contains(3));
        let second = profile.apply(&event(EventType::View, 2, &["c", "d"]), &weights);
        assert_eq!(
            (0..5).map(|i| second.contains(i)).collect::<Vec<_>>(),
            [false, false, true, true, false]
        );
        let mut many = ChangedTags::default();
        many.mark(70);
        assert!(many.contains(63) && many.contains(99) && !many.contains(62));
        many.merge(first);
        assert!(many.contains(0) && ChangedTags::ALL.contains(5));
    }

    #[test]
    fn an_event_seen_within_the_window_is_not_counted_again() {
        let weights = Weights::default();
        let mut profile = UserProfile::default();
        let first = event(EventType::View, 1_000, &["a"]);
        assert!(profile.first_sighting(&first, Some(500)));
        profile.apply(&first, &weights);
        assert!(!profile.first_sighting(&first, Some(500)));
        // Once the user's newest event is a window later, it counts again.
        let later = event(EventType::View, 1_600, &["a"]);
        assert!(profile.first_sighting(&later, Some(500)));
        profile.apply(&later, &weights);
        assert!(profile.first_sighting(&first, Some(500)));
        // Without a window nothing is remembered.
        assert!(profile.first_sighting(&later, None) && profile.seen.is_empty());
    }

    #[test]
    fn top_tags_break_ties_by_name() {
        let weights = Weights::default();
        let mut profile = UserProfile::default();
        profile.apply(&event(EventType::View, 1, &["c", "b", "a", "d"]), &weights);
        profile.apply(&event(EventType::View, 2, &["d"]), &weights);
        assert_eq!(profile.top_tags(3), ["d", "a", "b"]);
        assert_eq!(profile.top_tags(10).len(), 4);
        assert!(profile.top_tags(0).is_empty());
    }

    #[test]
    fn top_tags_equal_a_full_sort() {
        let mut state = 7_u64;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            state >> 33
        };
        for _ in 0..200 {
            let len = usize::try_from(next() % 50).unwrap_or(0);
            let profile = UserProfile {
                scores: (0..len)
                    .map(|i| (Ustr::from(&format!("t{}", (i * 7) % 50)), (next() % 6) as i64))
                    .collect(),
                ..UserProfile::default()
            };
            let mut sorted: Vec<&(Ustr, i64)> = profile.scores.iter().collect();
            sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
            for n in [0, 1, 5, 60] {
                let expected: Vec<&str> = sorted.iter().take(n).map(|(t, _)| t.as_str()).collect();
                assert_eq!(profile.top_tags(n), expected, "{:?}", profile.scores);
            }
        }
    }
}
