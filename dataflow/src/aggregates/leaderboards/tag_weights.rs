//! The weight of each day's events per tag: the checkpointed count the tag
//! leaderboards are computed from.
//!
//! Each source worker sums its batch of events per (day, tag) before the
//! exchange ([`tag_weights`]), so one record per (day, tag) and batch
//! crosses it, not one per event. The state ([`TagWeightsState`]) holds one
//! total per (day, tag) ([`DayTag`]) in the store's `tag_weights` family,
//! checkpointed like the other aggregates, and reports each total that
//! changed in a batch to the leaderboards ([`CountChange`]). With a
//! retention, a day's totals leave state once it expires (as unique
//! visitors do) and their leaving is reported with the next batch.
//!
//! An event of a day that expired is not counted, but its day's boards may
//! still be in Redis: a run that kept more days wrote them after its last
//! checkpoint, and this run, restored from that checkpoint, never had
//! their counts to retract. So the first such event of each (day, tag)
//! deletes `top:tags:<day>`, `top:products:<day>` and
//! `top:tag-products:<day>:<tag>`, as the sink did for an uninterrupted run
//! when the day expired (every event carries tags, so every expired day
//! with events is seen here). A `top:tag-products` board of a catalog tag
//! that none of the replayed events carries is not found this way; it
//! keeps the expiry the earlier run gave it (none if that run kept every
//! day).

use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use model::keys;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use state::{Family, StateBatch, StateError, StateKey, StateStore, Table};
use state::{key_group_of_parts, worker_for_group};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use ustr::Ustr;

use super::changes::{ChangeLog, CountChange};
use crate::aggregates::visitors::Retention;
use crate::day::{Day, DayText};
use crate::epochs::{EpochState, WriteOut};
use crate::records::ProfileEvent;
use crate::redis_sink::RedisBatch;
use crate::resp::RespCommands;
use crate::weights::Weights;
use crate::writer::Writer;

/// A tag's weight on one day changed.
pub type TagChange = CountChange<Ustr>;

/// Weight added to one tag on one day by a batch of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagWeight {
    /// The events' day.
    pub day: Day,
    /// The tag.
    pub tag: Ustr,
    /// The sum of the events' weights.
    pub weight: u64,
}

/// The key of one tag's weight on one day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DayTag {
    /// The day.
    pub day: Day,
    /// The tag.
    pub tag: Ustr,
}

impl DayTag {
    /// The worker (of `peers`) that owns `weight`'s (day, tag).
    pub fn route(weight: &TagWeight, peers: usize) -> u64 {
        let group = key_group_of_parts(&[&weight.day.0.to_be_bytes(), weight.tag.as_bytes()]);
        worker_for_group(group, peers) as u64
    }
}

/// Stored as `[day: i32 BE][tag UTF-8]`.
impl StateKey for DayTag {
    fn group(&self) -> u16 {
        key_group_of_parts(&[&self.day.0.to_be_bytes(), self.tag.as_bytes()])
    }

    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.day.0.to_be_bytes());
        out.extend_from_slice(self.tag.as_bytes());
    }

    fn read_key(bytes: &[u8]) -> Option<Self> {
        let (day, tag) = bytes.split_first_chunk::<4>()?;
        let tag = std::str::from_utf8(tag).ok()?;
        Some(Self { day: Day(i32::from_be_bytes(*day)), tag: Ustr::from(tag) })
    }
}

impl From<&DayTag> for DayTag {
    fn from(key: &DayTag) -> Self {
        key.clone()
    }
}

/// Sums each batch of `events` per (day, tag), weighted by event type,
/// on the worker that read them.
pub fn tag_weights<'scope>(
    events: Stream<'scope, u64, Vec<ProfileEvent>>,
    weights: Weights,
) -> Stream<'scope, u64, Vec<TagWeight>> {
    let mut sums: FxHashMap<(Day, Ustr), u64> = FxHashMap::default();
    events.unary(Pipeline, "TagWeightSums", move |_, _| {
        move |input, output| {
            input.for_each_stamp(|capability, batches| {
                for batch in batches {
                    for event in batch.iter() {
                        let weight = u64::try_from(weights.of(event.kind)).unwrap_or(0);
                        for tag in &event.tags {
                            *sums.entry((event.day, *tag)).or_default() += weight;
                        }
                    }
                }
                let mut session = output.session(&capability);
                for ((day, tag), weight) in sums.drain() {
                    session.give(TagWeight { day, tag, weight });
                }
            });
        }
    })
}

/// The tag weights of one worker's key groups.
pub struct TagWeightsState {
    store: Arc<StateStore>,
    totals: Table<DayTag, u64>,
    groups: Range<u16>,
    retention: Retention,
    purged_before: Option<Day>,
    changes: ChangeLog<Ustr>,
    /// Totals whose day expired, reported with the next batch.
    left: Vec<TagChange>,
    /// Where the boards of expired days are deleted (`None`: nowhere).
    writer: Option<Rc<dyn Writer>>,
    /// Expired (day, tag)s met since the last purge, and those of them
    /// whose boards are not deleted yet.
    expired_seen: FxHashSet<DayTag>,
    expired_unwritten: Vec<DayTag>,
    day_text: DayText,
}

impl std::fmt::Debug for TagWeightsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagWeightsState").field("totals", &self.totals.len()).finish()
    }
}

impl TagWeightsState {
    /// The totals of `groups` in `store` (all loaded: one per tag and day).
    pub fn new(
        store: Arc<StateStore>,
        groups: Range<u16>,
        retention: Retention,
    ) -> Result<Self, StateError> {
        let mut totals = Table::new(Family::TagWeights);
        totals.preload(&store)?;
        // Totals of days that expired while the job was down are purged at
        // the end of the first epoch, not here: the fragment starts from
        // them ([`Self::totals`]) and then sees them leave, so the sink
        // deletes the boards an earlier run wrote for those days.
        Ok(Self {
            store,
            totals,
            groups,
            retention,
            purged_before: None,
            changes: ChangeLog::default(),
            left: Vec::new(),
            writer: None,
            expired_seen: FxHashSet::default(),
            expired_unwritten: Vec::new(),
            day_text: DayText::default(),
        })
    }

    /// Deletes through `writer` the boards of the expired days whose events
    /// arrive (see the module docs).
    pub fn delete_expired_boards_through(&mut self, writer: Rc<dyn Writer>) {
        self.writer = Some(writer);
    }

    /// The `DEL`s of the boards of `expired` (day, tag)s.
    fn delete_boards(&mut self, expired: &[DayTag]) -> RedisBatch {
        let mut out = RespCommands::new();
        let mut days: Vec<Day> = expired.iter().map(|key| key.day).collect();
        days.sort_unstable();
        days.dedup();
        for day in days {
            let day = self.day_text.of(day);
            out.command(2, "DEL").arg(keys::top_tags(day).as_bytes());
            out.command(2, "DEL").arg(keys::top_products(day).as_bytes());
        }
        for key in expired {
            let day = self.day_text.of(key.day);
            out.command(2, "DEL").arg(keys::top_tag_products(day, &key.tag).as_bytes());
        }
        RedisBatch::new(out)
    }

    /// Every total in state, as changes from zero (the fragment's input
    /// after a restore).
    pub fn totals(&self) -> Result<Vec<TagChange>, StateError> {
        let mut all = Vec::new();
        if self.totals.is_complete() {
            for (key, total) in self.totals.iter() {
                all.push(CountChange::appeared(key.day, key.tag, *total));
            }
            return Ok(all);
        }
        for entry in self.store.scan(Family::TagWeights, self.groups.clone()) {
            let (_, raw, value) = entry?;
            let Some(key) = DayTag::read_key(&raw) else { continue };
            let total: u64 = state::codec::decode(&value).map_err(|source| StateError::Codec {
                family: Family::TagWeights,
                key: format!("{}:{}", key.day, key.tag),
                source,
            })?;
            all.push(CountChange::appeared(key.day, key.tag, total));
        }
        Ok(all)
    }

    /// Removes the totals of days the retention no longer keeps; their
    /// leaving is reported with the next batch.
    fn purge_expired(&mut self) -> Result<(), StateError> {
        let Some(oldest) = self.retention.oldest_kept() else { return Ok(()) };
        if self.purged_before.is_some_and(|purged| purged >= oldest) {
            return Ok(());
        }
        self.purged_before = Some(oldest);
        self.expired_seen.clear();
        let mut expired: FxHashMap<DayTag, u64> = FxHashMap::default();
        for (key, total) in self.totals.iter() {
            if key.day < oldest {
                expired.insert(key.clone(), *total);
            }
        }
        for group in self.groups.clone() {
            let below = oldest.0.to_be_bytes();
            for entry in self.store.scan_in_group_below(Family::TagWeights, group, &below) {
                let (_, raw, value) = entry?;
                let Some(key) = DayTag::read_key(&raw) else { continue };
                expired.entry(key).or_insert_with(|| state::codec::decode(&value).unwrap_or(0));
            }
        }
        for (key, total) in expired {
            self.totals.remove(&key)?;
            self.left.push(CountChange::left(key.day, key.tag, total));
        }
        Ok(())
    }
}

impl EpochState for TagWeightsState {
    type Record = TagWeight;
    type Output = TagChange;

    fn apply(&mut self, records: &mut Vec<TagWeight>, out: &mut Vec<TagChange>) {
        out.append(&mut self.left);
        let oldest_kept = self.retention.oldest_kept();
        for TagWeight { day, tag, weight } in records.drain(..) {
            if weight == 0 {
                continue;
            }
            if oldest_kept.is_some_and(|oldest| day < oldest) {
                let key = DayTag { day, tag };
                if self.writer.is_some() && self.expired_seen.insert(key.clone()) {
                    self.expired_unwritten.push(key);
                }
                continue;
            }
            let total = match self.totals.get_mut(&self.store, &DayTag { day, tag }) {
                Ok(total) => total,
                Err(err) => panic!("cannot read tag-weight state: {err}"),
            };
            let old = *total;
            *total += weight;
            self.changes.note(day, tag, old, *total);
        }
        self.changes.drain_into(out);
    }

    fn complete(&mut self, _epoch: u64) {
        if let Err(err) = self.purge_expired() {
            panic!("cannot purge expired tag weights: {err}");
        }
    }

    /// The leaderboards write what the totals rank; here only the boards of
    /// expired days met again are deleted.
    fn write_out(&mut self, _when: WriteOut) {
        if self.expired_unwritten.is_empty() {
            return;
        }
        let expired = std::mem::take(&mut self.expired_unwritten);
        let batch = self.delete_boards(&expired);
        if let Some(writer) = &self.writer {
            writer.redis(batch);
        }
    }

    fn begin_snapshot(&mut self) {
        self.totals.begin_snapshot();
    }

    fn continue_snapshot(&mut self, work: usize) -> Option<StateBatch> {
        match self.totals.continue_snapshot(work) {
            Ok(batch) => batch,
            Err(err) => panic!("cannot snapshot tag-weight state: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_tags_round_trip() {
        for tag in ["shoes", "", "a:b", "très 🛒"] {
            let key = DayTag { day: Day(20_000), tag: Ustr::from(tag) };
            let mut bytes = Vec::new();
            key.write_key(&mut bytes);
            assert_eq!(DayTag::read_key(&bytes), Some(key));
        }
    }
}
