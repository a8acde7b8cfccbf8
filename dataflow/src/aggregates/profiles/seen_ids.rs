//! The event ids a user's profile remembers, so that an event delivered
//! twice (a client retrying a batch whose answer it never saw, a producer
//! resending) counts once (`--dedupe-window`).
//!
//! An id is remembered while its event's timestamp is within the window of
//! the user's newest event time (the *horizon*); an event whose id is
//! remembered is a duplicate and changes nothing. The ids live inside the
//! user's profile, so they are checkpointed, restored after kill -9, moved
//! with the user on a rescale and bounded by `--state-memory` like the rest
//! of the profile, and looking them up costs no second state access.
//!
//! Most users remember a few ids: those are scanned in a vector. A user
//! with many events inside the window gets a hash map (with the standard
//! library's keyed hasher: ids come from clients and may be hostile).
//! Expired ids are dropped when the vector fills or the map doubles; since
//! the horizon only moves forward, an expired id that is still stored is
//! treated as absent, so when they are dropped never changes an answer.

use std::collections::HashMap;

use compact_str::CompactString;
use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Ids kept in a vector and scanned; beyond this many, a hash map.
const SCAN_LIMIT: usize = 32;

/// One user's remembered event ids, each with its event's timestamp (ms).
#[derive(Debug, Clone)]
pub enum SeenIds {
    /// Few ids, scanned.
    Few(Vec<(CompactString, i64)>),
    /// Many ids; expired ones are dropped once the map holds `prune_at`.
    Many {
        /// Id → event timestamp.
        ids: HashMap<CompactString, i64>,
        /// Size at which expired ids are next dropped.
        prune_at: usize,
    },
}

impl Default for SeenIds {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl SeenIds {
    /// Remembers `id` (of an event at `timestamp`) and returns `true`, or
    /// returns `false` if it is remembered at or after `horizon` (a
    /// duplicate). An event older than the horizon is counted and not
    /// remembered.
    pub fn first_sighting(&mut self, id: &str, timestamp: i64, horizon: i64) -> bool {
        match self {
            Self::Few(ids) => {
                if let Some(entry) = ids.iter_mut().find(|(seen, _)| seen == id) {
                    if entry.1 >= horizon {
                        return false;
                    }
                    entry.1 = timestamp;
                    return true;
                }
                if timestamp < horizon {
                    return true;
                }
                if ids.len() >= SCAN_LIMIT {
                    ids.retain(|&(_, at)| at >= horizon);
                }
                if ids.len() < SCAN_LIMIT {
                    ids.push((id.into(), timestamp));
                    return true;
                }
                let mut map: HashMap<CompactString, i64> = ids.drain(..).collect();
                map.insert(id.into(), timestamp);
                *self = Self::Many { ids: map, prune_at: 4 * SCAN_LIMIT };
                true
            }
            Self::Many { ids, prune_at } => {
                if let Some(at) = ids.get_mut(id) {
                    if *at >= horizon {
                        return false;
                    }
                    *at = timestamp;
                    return true;
                }
                if timestamp < horizon {
                    return true;
                }
                ids.insert(id.into(), timestamp);
                if ids.len() >= *prune_at {
                    ids.retain(|_, at| *at >= horizon);
                    *prune_at = (2 * ids.len()).max(4 * SCAN_LIMIT);
                    if ids.len() <= SCAN_LIMIT / 2 {
                        *self = Self::Few(ids.drain().collect());
                    }
                }
                true
            }
        }
    }

    /// Number of ids stored (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        match self {
            Self::Few(ids) => ids.len(),
            Self::Many { ids, .. } => ids.len(),
        }
    }

    /// Whether no id is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every id (the window was turned off).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Every stored id with its timestamp, in no particular order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&CompactString, i64)> + '_> {
        match self {
            Self::Few(ids) => Box::new(ids.iter().map(|(id, at)| (id, *at))),
            Self::Many { ids, .. } => Box::new(ids.iter().map(|(id, at)| (id, *at))),
        }
    }

    /// Heap bytes: the vector or the map's table, and ids too long to be
    /// stored inline.
    pub fn heap_bytes(&self) -> usize {
        let entry = size_of::<(CompactString, i64)>();
        let table = match self {
            Self::Few(ids) => ids.capacity() * entry,
            // hashbrown: one control byte per bucket; capacity is 7/8 of
            // the buckets.
            Self::Many { ids, .. } => ids.capacity() * 8 / 7 * (entry + 1),
        };
        let spilled: usize =
            self.iter().map(|(id, _)| if id.is_heap_allocated() { id.capacity() } else { 0 }).sum();
        table + spilled
    }
}

/// Equal when the same ids are stored with the same timestamps, whatever
/// the representation.
impl PartialEq for SeenIds {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && {
            let theirs: HashMap<&CompactString, i64> = other.iter().collect();
            self.iter().all(|(id, at)| theirs.get(id) == Some(&at))
        }
    }
}

impl Eq for SeenIds {}

/// Stored as a sequence of (id, timestamp), whatever the representation.
impl Serialize for SeenIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for SeenIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ids = Vec::<(CompactString, i64)>::deserialize(deserializer)?;
        Ok(if ids.len() <= SCAN_LIMIT {
            Self::Few(ids)
        } else {
            let prune_at = (2 * ids.len()).max(4 * SCAN_LIMIT);
            Self::Many { ids: ids.into_iter().collect(), prune_at }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification, written plainly: an id is a duplicate if it was
    /// remembered at a timestamp at or after the horizon.
    struct Plain(Vec<(String, i64)>);

    impl Plain {
        fn first_sighting(&mut self, id: &str, timestamp: i64, horizon: i64) -> bool {
            if self.0.iter().any(|(seen, at)| seen == id && *at >= horizon) {
                return false;
            }
            self.0.retain(|(seen, _)| seen != id);
            if timestamp >= horizon {
                self.0.push((id.to_owned(), timestamp));
            }
            true
        }
    }

    #[test]
    fn a_repeat_inside_the_window_is_a_duplicate() {
        let mut seen = SeenIds::default();
        assert!(seen.first_sighting("e1", 100, 0));
        assert!(!seen.first_sighting("e1", 100, 50));
        assert!(seen.first_sighting("e2", 100, 50));
        // Past the horizon the id is forgotten: it counts again.
        assert!(seen.first_sighting("e1", 100, 101));
        // An event older than the horizon counts and is not remembered.
        assert!(seen.first_sighting("old", 10, 101));
        assert!(seen.first_sighting("old", 10, 101));
    }

    #[test]
    fn agrees_with_the_plain_specification_across_both_representations() {
        let mut state = 11_u64;
        let mut next = move |bound: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        for round in 0..20 {
            let (mut seen, mut plain) = (SeenIds::default(), Plain(Vec::new()));
            let mut newest = 0_i64;
            let window = i64::try_from(5 + next(200)).unwrap();
            let spread = 3 + next(400);
            for _ in 0..3_000 {
                let timestamp = newest - 40 + i64::try_from(next(60)).unwrap();
                newest = newest.max(timestamp);
                let horizon = newest - window;
                let id = format!("e{}", next(spread));
                let expected = plain.first_sighting(&id, timestamp, horizon);
                assert_eq!(seen.first_sighting(&id, timestamp, horizon), expected, "round {round}");
            }
            assert!(seen.heap_bytes() > 0);
        }
    }

    #[test]
    fn grows_into_a_map_and_shrinks_back() {
        let mut seen = SeenIds::default();
        for i in 0..1_000 {
            assert!(seen.first_sighting(&format!("e{i}"), i, 0));
        }
        assert!(matches!(seen, SeenIds::Many { .. }) && seen.len() == 1_000);
        assert!(!seen.first_sighting("e999", 999, 0));
        // A horizon 5 behind the newest: the next prune drops all but 6.
        for i in 1_000..1_200 {
            assert!(seen.first_sighting(&format!("e{i}"), i, i - 5));
        }
        assert!(matches!(seen, SeenIds::Few(_)), "{} ids", seen.len());
        assert!(!seen.first_sighting("e1199", 1_199, 1_195));
    }

    #[test]
    fn survives_a_round_trip_through_the_state_codec() {
        for count in [0, 3, 500] {
            let mut seen = SeenIds::default();
            for i in 0..count {
                seen.first_sighting(&format!("event-id-long-enough-to-spill-{i}"), i, 0);
            }
            let bytes = state::codec::encode(&seen).unwrap();
            let back: SeenIds = state::codec::decode(&bytes).unwrap();
            assert_eq!(back, seen);
            assert_eq!(back.len(), usize::try_from(count).unwrap());
        }
    }
}
