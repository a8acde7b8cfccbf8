//! The event ids a user's profile remembers, so that an event delivered
//! twice (a client retrying a batch whose answer it never saw, a producer
//! resending) counts once (`--dedupe-window`).
//!
//! A duplicate is an event with the same user, event type and eventId as
//! one remembered. An id is remembered while its event's timestamp is
//! within the window of the newest timestamp among the user's events of
//! the same type (that type's *horizon*). Events of one user and type come
//! from one partition when the topics are keyed by user (as the API and the
//! simulator key them), so the horizon advances in that partition's order,
//! which every replay repeats: whether an event is a duplicate does not
//! depend on how the three topics interleave, and a run restored after a
//! crash decides exactly as an uninterrupted one. (With a horizon over all
//! types, a topic read minutes behind the others — a broker outage — would
//! see its duplicates' originals already forgotten.)
//!
//! The ids live inside the user's profile, so they are checkpointed,
//! restored after kill -9, moved with the user on a rescale and bounded by
//! `--state-memory` like the rest of the profile, and looking them up costs
//! no second state access. Most users remember a few ids: those are
//! scanned in a vector. A user with many events inside the window gets a
//! hash map (with the standard library's keyed hasher: ids come from
//! clients and may be hostile). Expired ids are dropped when the vector
//! fills or the map doubles; since horizons only move forward, an expired
//! id that is still stored is treated as absent, so when they are dropped
//! never changes an answer.

use std::collections::HashMap;

use compact_str::CompactString;
use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Ids kept in a vector and scanned; beyond this many, a hash map.
const SCAN_LIMIT: usize = 32;
/// Event types (the index of `model::EventType`).
const TYPES: usize = 3;
/// A vector entry's type sits above this bit of its timestamp (valid
/// timestamps are below 2^42), so an entry stays 32 bytes.
const TYPE_SHIFT: u32 = 56;

/// One user's remembered event ids.
#[derive(Debug, Clone)]
pub struct SeenIds {
    /// Newest timestamp per event type (`i64::MIN`: none yet).
    newest: [i64; TYPES],
    ids: Ids,
}

/// The remembered ids with their events' types and timestamps.
#[derive(Debug, Clone)]
enum Ids {
    /// Few ids, scanned: (id, type << TYPE_SHIFT | timestamp).
    Few(Vec<(CompactString, i64)>),
    /// Many ids; expired ones are dropped once the map holds `prune_at`.
    Many { ids: HashMap<(u8, CompactString), i64>, prune_at: usize },
}

fn pack(kind: usize, timestamp: i64) -> i64 {
    (i64::try_from(kind).unwrap_or(0) << TYPE_SHIFT) | timestamp
}

fn unpack(packed: i64) -> (usize, i64) {
    (usize::try_from(packed >> TYPE_SHIFT).unwrap_or(0), packed & ((1 << TYPE_SHIFT) - 1))
}

/// A type index as the map's key holds it.
fn type_byte(kind: usize) -> u8 {
    u8::try_from(kind).unwrap_or(0)
}

/// A vector entry as a map entry.
fn map_entry((id, packed): (CompactString, i64)) -> ((u8, CompactString), i64) {
    let (kind, at) = unpack(packed);
    ((type_byte(kind), id), at)
}

impl Default for SeenIds {
    fn default() -> Self {
        Self { newest: [i64::MIN; TYPES], ids: Ids::Few(Vec::new()) }
    }
}

impl SeenIds {
    /// Remembers `id` (of an event of type `kind`, an `EventType` index, at
    /// `timestamp`) and returns `true`, or returns `false` if it is
    /// remembered for that type within `window` ms of the type's newest
    /// event (a duplicate). An event older than that is counted and not
    /// remembered.
    pub fn first_sighting(&mut self, kind: usize, id: &str, timestamp: i64, window: i64) -> bool {
        let kind = kind.min(TYPES - 1);
        self.newest[kind] = self.newest[kind].max(timestamp);
        let horizons = self.newest.map(|newest| newest.saturating_sub(window));
        let horizon = horizons[kind];
        match &mut self.ids {
            Ids::Few(ids) => {
                let same = |entry: &&mut (CompactString, i64)| {
                    entry.0.as_str() == id && unpack(entry.1).0 == kind
                };
                if let Some(entry) = ids.iter_mut().find(same) {
                    if unpack(entry.1).1 >= horizon {
                        return false;
                    }
                    entry.1 = pack(kind, timestamp);
                    return true;
                }
                if timestamp < horizon {
                    return true;
                }
                if ids.len() >= SCAN_LIMIT {
                    ids.retain(|&(_, packed)| {
                        let (kind, at) = unpack(packed);
                        at >= horizons[kind]
                    });
                }
                if ids.len() < SCAN_LIMIT {
                    ids.push((id.into(), pack(kind, timestamp)));
                    return true;
                }
                let mut map: HashMap<(u8, CompactString), i64> =
                    ids.drain(..).map(map_entry).collect();
                map.insert((type_byte(kind), id.into()), timestamp);
                self.ids = Ids::Many { ids: map, prune_at: 4 * SCAN_LIMIT };
                true
            }
            Ids::Many { ids, prune_at } => {
                let key = (type_byte(kind), CompactString::from(id));
                if let Some(at) = ids.get_mut(&key) {
                    if *at >= horizon {
                        return false;
                    }
                    *at = timestamp;
                    return true;
                }
                if timestamp < horizon {
                    return true;
                }
                ids.insert(key, timestamp);
                if ids.len() >= *prune_at {
                    ids.retain(|(kind, _), at| *at >= horizons[usize::from(*kind)]);
                    *prune_at = (2 * ids.len()).max(4 * SCAN_LIMIT);
                    if ids.len() <= SCAN_LIMIT / 2 {
                        let few = ids
                            .drain()
                            .map(|((kind, id), at)| (id, pack(usize::from(kind), at)))
                            .collect();
                        self.ids = Ids::Few(few);
                    }
                }
                true
            }
        }
    }

    /// Number of ids stored (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        match &self.ids {
            Ids::Few(ids) => ids.len(),
            Ids::Many { ids, .. } => ids.len(),
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

    /// Every stored id as (type, id, timestamp), in no particular order.
    fn entries(&self) -> Box<dyn Iterator<Item = (usize, &CompactString, i64)> + '_> {
        match &self.ids {
            Ids::Few(ids) => Box::new(ids.iter().map(|(id, packed)| {
                let (kind, at) = unpack(*packed);
                (kind, id, at)
            })),
            Ids::Many { ids, .. } => {
                Box::new(ids.iter().map(|((kind, id), at)| (usize::from(*kind), id, *at)))
            }
        }
    }

    /// Heap bytes: the vector or the map's table, and ids too long to be
    /// stored inline.
    pub fn heap_bytes(&self) -> usize {
        let table = match &self.ids {
            Ids::Few(ids) => ids.capacity() * size_of::<(CompactString, i64)>(),
            // hashbrown: one control byte per bucket; capacity is 7/8 of
            // the buckets.
            Ids::Many { ids, .. } => {
                ids.capacity() * 8 / 7 * (size_of::<((u8, CompactString), i64)>() + 1)
            }
        };
        let spilled: usize = self
            .entries()
            .map(|(_, id, _)| if id.is_heap_allocated() { id.capacity() } else { 0 })
            .sum();
        table + spilled
    }
}

/// Equal when the same newest times and the same (type, id, timestamp)
/// entries are stored, whatever the representation.
impl PartialEq for SeenIds {
    fn eq(&self, other: &Self) -> bool {
        self.newest == other.newest && self.len() == other.len() && {
            let theirs: HashMap<(usize, &CompactString), i64> =
                other.entries().map(|(kind, id, at)| ((kind, id), at)).collect();
            self.entries().all(|(kind, id, at)| theirs.get(&(kind, id)) == Some(&at))
        }
    }
}

impl Eq for SeenIds {}

/// Stored as the newest times and a sequence of (id, type << 56 |
/// timestamp), whatever the representation.
impl Serialize for SeenIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Entries<'a>(&'a SeenIds);
        impl Serialize for Entries<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.entries().map(|(kind, id, at)| (id, pack(kind, at))))
            }
        }
        (self.newest, Entries(self)).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SeenIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (newest, ids) = <([i64; TYPES], Vec<(CompactString, i64)>)>::deserialize(deserializer)?;
        let ids = if ids.len() <= SCAN_LIMIT {
            Ids::Few(ids)
        } else {
            let prune_at = (2 * ids.len()).max(4 * SCAN_LIMIT);
            Ids::Many { ids: ids.into_iter().map(map_entry).collect(), prune_at }
        };
        Ok(Self { newest, ids })
    }
}

#[cfg(test)]
#[path = "seen_ids_tests.rs"]
mod tests;
