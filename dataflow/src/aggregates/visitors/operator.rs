//! Daily unique visitors: the UV operator's state and its Redis output.
//!
//! Visits arrive from the profile operator, which interned their user,
//! routed by (day, product) ([`ViewRouter`]). State holds one
//! [`VisitorSet`] of user ids per (day, product) ([`VisitKey`]); its length
//! is the count, so count and members cannot disagree, and a snapshot writes
//! each changed set once. A rescaled restore moves each (day, product) with
//! its set to the worker that now owns its key group. Each write-out (as
//! soon as Redis can take one, coalescing while it is busy), each changed
//! (day, product) gets one `SADD pageviews:<day>:<product>` with its new
//! visitors, and the counts go out in one coalesced `HSET
//! hot:pageview_counts`. With a retention (`retention.rs`), each set's key
//! gets the `EXPIREAT` of its day, and days that expire leave state and
//! their `hot:pageview_counts` fields ([`VisitorsState::purge_expired`]).

use std::collections::hash_map::Entry;
use std::fmt::Write as _;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use compact_str::CompactString;
use model::{SharedHashLayout, keys};
use rustc_hash::{FxHashMap, FxHashSet};
use state::{
    CommitWaker, Family, KEY_GROUPS, MemoryPressure, StateBatch, StateError, StateKey, StateStore,
    Table,
};

use super::key::VisitKey;
use super::retention::Retention;
use super::set::VisitorSet;
use crate::aggregates::AggregateSettings;
use crate::aggregates::leaderboards::changes::ChangeLog;
use crate::aggregates::leaderboards::{CountChange, UvChange};
use crate::aggregates::profiles::user_ids::UserNames;
use crate::day::{Day, DayText};
use crate::epochs::{EpochState, WriteOut};
use crate::metrics::JobMetrics;
use crate::records::Visit;
use crate::redis_sink::{RedisBatch, SharedHash};
use crate::resp::RespCommands;
use crate::write_pace::WriteGate;
use crate::writer::Writer;

/// (Day, product) pairs per Redis pipeline when rewriting the whole state.
const FIELDS_PER_REWRITE: usize = 2_000;

/// The UV operator's state on one worker.
pub struct VisitorsState {
    store: Arc<StateStore>,
    sets: Table<VisitKey, VisitorSet>,
    /// New visitors since the last write-out, by (day, product).
    changed: FxHashMap<VisitKey, Vec<CompactString>>,
    /// Memberships in state (the sum of the sets' lengths).
    memberships: usize,
    /// Which days are kept.
    retention: Retention,
    /// Where the counts' fields of `hot:pageview_counts` go.
    hash_layout: SharedHashLayout,
    /// The key groups this worker owns.
    groups: Range<u16>,
    /// Every day before this one has left state.
    purged_before: Option<Day>,
    /// Expired (day, product)s seen since the last purge, and those of them
    /// whose Redis keys are still to be deleted.
    expired_seen: FxHashSet<VisitKey>,
    expired_unwritten: Vec<VisitKey>,
    day_text: DayText,
    writer: Rc<dyn Writer>,
    metrics: Arc<JobMetrics>,
    epoch_started: Option<Instant>,
    /// Memberships this worker last reported to the state-size metric.
    reported_keys: usize,
    /// Bytes this worker last reported to the state-memory metric.
    reported_bytes: usize,
    /// Bytes of the previous Redis batch: the next starts with that room.
    batch_bytes: usize,
    /// `hot:pageview_counts`' commands (kept for their buffers).
    counts: SharedHash,
    /// When the changes were last written (for the write pace).
    gate: WriteGate,
    /// Whether count changes go on to the leaderboards.
    reports_changes: bool,
    /// The counts changed in the batch being applied.
    changes: ChangeLog<CompactString>,
    /// Counts of expired days, reported as leaving with the next batch.
    left: Vec<UvChange>,
}

impl std::fmt::Debug for VisitorsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorsState").field("pairs", &self.sets.len()).finish()
    }
}

impl VisitorsState {
    /// State over `store`, keeping at most about `memory` bytes of sets in
    /// memory (`None`: all), and loading what fits.
    pub fn new(
        store: Arc<StateStore>,
        memory: Option<usize>,
        settings: &AggregateSettings,
        groups: Range<u16>,
        writer: Rc<dyn Writer>,
        metrics: Arc<JobMetrics>,
    ) -> Result<Self, StateError> {
        let mut sets: Table<VisitKey, VisitorSet> = Table::new(Family::VisitorSets);
        sets.set_memory_budget(memory);
        sets.preload(&store)?;
        // Over the whole state: the stored sets too when not all fit.
        let mut memberships: usize = sets.iter().map(|(_, set)| set.len() as usize).sum();
        if !sets.is_complete() {
            memberships = 0;
            for entry in store.scan(Family::VisitorSets, 0..KEY_GROUPS) {
                let (_, raw, value) = entry?;
                let set: VisitorSet = state::codec::decode(&value).map_err(|source| {
                    let key = VisitKey::read_key(&raw).map(|k| k.to_string()).unwrap_or_default();
                    StateError::Codec { family: Family::VisitorSets, key, source }
                })?;
                memberships += set.len() as usize;
            }
        }
        let mut reported_keys = 0;
        metrics.set_state_keys("daily_visitors", &mut reported_keys, memberships);
        let mut state = Self {
            store,
            sets,
            changed: FxHashMap::default(),
            memberships,
            retention: settings.retention.clone(),
            hash_layout: settings.hash_layout,
            groups,
            purged_before: None,
            expired_seen: FxHashSet::default(),
            expired_unwritten: Vec::new(),
            day_text: DayText::default(),
            writer,
            metrics,
            epoch_started: None,
            reported_keys,
            reported_bytes: 0,
            batch_bytes: 0,
            counts: SharedHash::new(settings.hash_layout, keys::HOT_PAGEVIEW_COUNTS),
            gate: WriteGate::default(),
            reports_changes: false,
            changes: ChangeLog::default(),
            left: Vec::new(),
        };
        // Days that expired while the job was down leave at once.
        state.purge_expired()?;
        Ok(state)
    }

    /// Emits each batch's count changes downstream (to the leaderboards),
    /// and returns every count in state as changes from zero: what the
    /// leaderboards start from.
    pub fn report_changes(&mut self) -> Result<Vec<UvChange>, StateError> {
        self.reports_changes = true;
        let mut all = Vec::new();
        if self.sets.is_complete() {
            for (key, set) in self.sets.iter() {
                all.push(CountChange::appeared(key.day, key.product.clone(), set.len()));
            }
            return Ok(all);
        }
        for entry in self.store.scan(Family::VisitorSets, self.groups.clone()) {
            let (_, raw, value) = entry?;
            let Some(key) = VisitKey::read_key(&raw) else { continue };
            let set: VisitorSet = state::codec::decode(&value).map_err(|source| {
                StateError::Codec { family: Family::VisitorSets, key: key.to_string(), source }
            })?;
            all.push(CountChange::appeared(key.day, key.product, set.len()));
        }
        Ok(all)
    }

    /// Caps the memory of the cached visitor sets (`None`: all).
    pub fn set_memory_budget(&mut self, bytes: Option<usize>) {
        self.sets.set_memory_budget(bytes);
    }

    /// Writes every cached (day, product)'s visitor set and count from state
    /// (after a restore, so a Redis that lost data is repaired), naming
    /// users through `names`; returns the number of (day, product) pairs.
    pub fn rewrite_all(&mut self, names: &dyn UserNames) -> Result<usize, StateError> {
        let keys: Vec<VisitKey> = self.sets.iter().map(|(key, _)| key.clone()).collect();
        for chunk in keys.chunks(FIELDS_PER_REWRITE) {
            for key in chunk {
                let Some(set) = self.sets.get(&self.store, key)? else { continue };
                let mut users = Vec::with_capacity(set.len() as usize);
                for id in set.iter() {
                    match names.name(id)? {
                        Some(name) => users.push(name),
                        None => tracing::error!(?id, "a unique visitor's user id has no name"),
                    }
                }
                self.changed.insert(key.clone(), users);
            }
            let batch = self.render();
            self.writer.redis(batch);
        }
        Ok(keys.len())
    }

    /// Removes every (day, product) of a day the retention no longer keeps,
    /// from state (cached or only in RocksDB) and from Redis: its set and its
    /// `hot:pageview_counts` field. Does nothing until a day expires.
    pub fn purge_expired(&mut self) -> Result<usize, StateError> {
        let Some(oldest) = self.retention.oldest_kept() else { return Ok(0) };
        if self.purged_before.is_some_and(|purged| purged >= oldest) {
            return Ok(0);
        }
        // (key, its visitors): the cached set where there is one, else the
        // stored one.
        let mut expired: FxHashMap<VisitKey, u64> = FxHashMap::default();
        for (key, set) in self.sets.iter() {
            if key.day < oldest {
                expired.insert(key.clone(), set.len());
            }
        }
        for group in self.groups.clone() {
            for entry in
                self.store.scan_in_group_below(Family::VisitorSets, group, &oldest.0.to_be_bytes())
            {
                let (_, raw, value) = entry?;
                let Some(key) = VisitKey::read_key(&raw) else { continue };
                if let Entry::Vacant(entry) = expired.entry(key) {
                    let set: VisitorSet =
                        state::codec::decode(&value).map_err(|source| StateError::Codec {
                            family: Family::VisitorSets,
                            key: entry.key().to_string(),
                            source,
                        })?;
                    entry.insert(set.len());
                }
            }
        }
        self.purged_before = Some(oldest);
        self.expired_seen.clear();
        if expired.is_empty() {
            return Ok(0);
        }
        let keys: Vec<VisitKey> = expired.keys().cloned().collect();
        for (key, visitors) in expired {
            if self.reports_changes {
                self.left.push(CountChange::left(key.day, key.product.clone(), visitors));
            }
            self.sets.remove(&key)?;
            self.changed.remove(&key);
            self.memberships = self.memberships.saturating_sub(visitors as usize);
        }
        let batch = self.delete_from_redis(&keys);
        self.writer.redis(batch);
        tracing::info!(pairs = keys.len(), before = %oldest, "expired unique visitors purged");
        Ok(keys.len())
    }

    /// `DEL` of the sets of `expired` and `HDEL` of their counts.
    fn delete_from_redis(&mut self, expired: &[VisitKey]) -> RedisBatch {
        let mut out = RespCommands::new();
        let mut fields = Vec::with_capacity(expired.len());
        for key in expired {
            let day = self.day_text.of(key.day);
            out.command(2, "DEL").arg(keys::pageviews(day, &key.product).as_bytes());
            fields.push(format!("{day}:{}", key.product));
        }
        for (hash_key, at) in self.hash_layout.group(keys::HOT_PAGEVIEW_COUNTS, &fields) {
            for chunk in at.chunks(FIELDS_PER_REWRITE) {
                out.command(2 + chunk.len(), "HDEL").arg(hash_key.as_bytes());
                for &i in chunk {
                    out.arg(fields[i].as_bytes());
                }
            }
        }
        RedisBatch::new(out)
    }

    fn render(&mut self) -> RedisBatch {
        let mut out = self.writer.commands_buffer(self.batch_bytes);
        let mut field = String::new();
        let mut count_text = String::new();
        for (key, users) in self.changed.drain() {
            let day = self.day_text.of(key.day);
            if !users.is_empty() {
                let set_key = keys::pageviews(day, &key.product);
                out.command(2 + users.len(), "SADD").arg(set_key.as_bytes());
                for user in &users {
                    out.arg(user.as_bytes());
                }
                if let Some(at) = self.retention.expires_at(key.day) {
                    out.command(3, "EXPIREAT").arg(set_key.as_bytes()).arg_int(at);
                }
            }
            let count = match self.sets.get(&self.store, &key) {
                Ok(set) => set.map_or(0, VisitorSet::len),
                Err(err) => panic!("cannot read unique-visitor state: {err}"),
            };
            field.clear();
            let _ = write!(field, "{day}:{}", key.product);
            count_text.clear();
            let _ = write!(count_text, "{count}");
            self.counts.set(&mut out, &field, count_text.as_bytes());
        }
        self.counts.flush(&mut out);
        self.batch_bytes = out.bytes().len();
        RedisBatch::new(out)
    }
}

impl EpochState for VisitorsState {
    type Record = Visit;
    type Output = UvChange;

    fn apply(&mut self, records: &mut Vec<Visit>, out: &mut Vec<UvChange>) {
        self.epoch_started.get_or_insert_with(Instant::now);
        out.append(&mut self.left);
        // Read the clock once per batch, not per visit.
        let oldest_kept = self.retention.oldest_kept();
        for visit in records.drain(..) {
            let key = VisitKey { day: visit.day, product: visit.product };
            if oldest_kept.is_some_and(|oldest| visit.day < oldest) {
                // Not counted. Its Redis keys may exist all the same (written
                // before a crash, replayed after its day expired): delete them,
                // as the purge did in an uninterrupted run.
                if self.expired_seen.insert(key.clone()) {
                    self.expired_unwritten.push(key);
                }
                continue;
            }
            let set = match self.sets.get_mut(&self.store, &key) {
                Ok(set) => set,
                Err(err) => panic!("cannot read unique-visitor state: {err}"),
            };
            if !set.insert(visit.user_id) {
                continue;
            }
            if self.reports_changes {
                let count = set.len();
                self.changes.note(key.day, key.product.clone(), count - 1, count);
            }
            self.memberships += 1;
            match self.changed.get_mut(&key) {
                Some(users) => users.push(visit.user),
                None => {
                    self.changed.insert(key, vec![visit.user]);
                }
            }
        }
        self.changes.drain_into(out);
    }

    fn complete(&mut self, epoch: u64) {
        if let Err(err) = self.purge_expired() {
            panic!("cannot purge expired unique visitors: {err}");
        }
        self.sets.evict_over_budget();
        self.metrics.set_state_keys("daily_visitors", &mut self.reported_keys, self.memberships);
        let bytes = self.sets.memory_bytes();
        self.metrics.set_state_memory("visitor_sets", &mut self.reported_bytes, bytes);
        self.metrics.observe_epoch("unique_visitors", self.epoch_started.take());
        tracing::trace!(epoch, "unique visitors epoch complete");
    }

    fn write_out(&mut self, when: WriteOut) {
        let pending = !self.changed.is_empty() || !self.expired_unwritten.is_empty();
        if pending && self.gate.open(when, &*self.writer) {
            let expired = std::mem::take(&mut self.expired_unwritten);
            if !expired.is_empty() {
                let batch = self.delete_from_redis(&expired);
                self.writer.redis(batch);
            }
            let batch = self.render();
            self.writer.redis(batch);
        }
    }

    fn begin_snapshot(&mut self) {
        self.sets.begin_snapshot();
    }

    fn memory_pressure(&mut self) -> MemoryPressure {
        self.sets.memory_pressure()
    }

    fn wake_on_commit(&mut self, wake: CommitWaker) {
        self.sets.wake_on_commit(wake);
    }

    fn continue_snapshot(&mut self, work: usize) -> Option<StateBatch> {
        match self.sets.continue_snapshot(work) {
            Ok(batch) => batch,
            Err(err) => panic!("cannot snapshot unique-visitor state: {err}"),
        }
    }
}
