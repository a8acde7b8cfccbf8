//! Per-user tag scores: the profile operator's state and its Redis output.
//!
//! Events arrive routed by user. An event whose type and id the user's
//! profile remembers within `--dedupe-window` is a duplicate: it is counted in
//! `tagflow_duplicate_events_total` and changes nothing. The first event of
//! a user issues its interned id (`user_ids.rs`); every counted view goes
//! on, with that id, to the unique-visitor operator as a [`Visit`], and
//! with the leaderboards on every counted event goes on to their tag
//! weights. Each write-out (as soon as Redis
//! can take one, coalescing while it is busy, see `epochs.rs`) writes every changed
//! user once: the changed scores of `user:profile:<u>` (tag → score),
//! `user:purchased:<u>` (products bought) if it bought something, its
//! top-N in `UserInterestTag`, its JSON profile in `user-profiles` (the two
//! shared hashes get one HSET per write-out with every changed user), and,
//! when its top-N changed, a message on `user-interest-tags-topic`. All
//! writes are absolute values and every changed field is written after its
//! change, so replaying events after a restore converges to exactly the
//! same keys.

use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use compact_str::CompactString;
use model::{EventType, SharedHashLayout, keys};
use rustc_hash::FxHashMap;
use serde::Serialize;
use state::{Family, StateBatch, StateError, StateKey, StateStore, Table};
use ustr::Ustr;

use super::ProfileOutput;
use super::json as profile_json;
use super::profile::{ChangedTags, UserProfile};
use super::user_ids::UserIdIssuer;
use crate::aggregates::AggregateSettings;
use crate::epochs::{EpochState, WriteOut};
use crate::metrics::JobMetrics;
use crate::records::{ProfileEvent, Visit};
use crate::redis_sink::{RedisBatch, SharedHash};
use crate::weights::Weights;
use crate::write_pace::WriteGate;
use crate::writer::Writer;

/// Users per Redis pipeline when rewriting the whole state.
const USERS_PER_REWRITE: usize = 5_000;
/// One event in this many has its end-to-end latency observed.
const LATENCY_SAMPLE_EVERY: u32 = 16;

/// What changed for one user since it was last written.
#[derive(Debug, Clone, Copy, Default)]
struct UserChanges {
    tags: ChangedTags,
    purchased: bool,
}

/// The profile operator's state on one worker.
pub struct ProfilesState {
    store: Arc<StateStore>,
    table: Table<CompactString, UserProfile>,
    ids: UserIdIssuer,
    /// Names of the ids issued before the snapshot in progress began.
    snapshot_names: StateBatch,
    weights: Weights,
    top_n: usize,
    /// `--dedupe-window` in ms (`None`: off).
    dedupe_window: Option<i64>,
    /// Whether counted events go on (to the leaderboards).
    emit_counted: bool,
    changed: FxHashMap<CompactString, UserChanges>,
    /// Creation times of sampled events not yet written.
    latency_samples: Vec<i64>,
    /// Events until the next latency sample.
    until_sample: u32,
    writer: Rc<dyn Writer>,
    metrics: Arc<JobMetrics>,
    epoch_started: Option<Instant>,
    /// When the changes were last written (for the write pace).
    gate: WriteGate,
    /// Keys this worker last reported to the state-size metric.
    reported_keys: usize,
    /// Bytes this worker last reported to the state-memory metric.
    reported_bytes: usize,
    buffers: Render,
}

impl std::fmt::Debug for ProfilesState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfilesState").field("users", &self.table.len()).finish()
    }
}

/// Buffers reused by every render.
#[derive(Debug)]
struct Render {
    key: String,
    json: Vec<u8>,
    order: Vec<usize>,
    /// Bytes of the previous batch: the next one starts with room for as
    /// many.
    batch_bytes: usize,
    /// `UserInterestTag`'s commands.
    interest: SharedHash,
    /// `user-profiles`' commands.
    profiles: SharedHash,
}

impl Render {
    fn new(layout: SharedHashLayout) -> Self {
        Self {
            key: String::new(),
            json: Vec::new(),
            order: Vec::new(),
            batch_bytes: 0,
            interest: SharedHash::new(layout, keys::USER_INTEREST_TAG),
            profiles: SharedHash::new(layout, keys::USER_PROFILES),
        }
    }
}

/// The JSON published on `user-interest-tags-topic`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InterestTagsJson<'a> {
    user_id: &'a str,
    top_tags: &'a [&'a str],
}

impl ProfilesState {
    /// State over `store`, which holds the key groups `groups`, keeping at
    /// most about `memory` bytes of profiles in memory (`None`: all), and
    /// loading what fits.
    pub fn new(
        store: Arc<StateStore>,
        groups: Range<u16>,
        memory: Option<usize>,
        settings: &AggregateSettings,
        writer: Rc<dyn Writer>,
        metrics: Arc<JobMetrics>,
    ) -> Result<Self, StateError> {
        let mut table = Table::new(Family::Profiles);
        table.set_memory_budget(memory);
        table.preload(&store)?;
        let ids = UserIdIssuer::new(&store, groups)?;
        let mut reported_keys = 0;
        metrics.set_state_keys("users", &mut reported_keys, ids.users());
        Ok(Self {
            store,
            table,
            ids,
            snapshot_names: StateBatch::new(),
            weights: settings.weights,
            top_n: settings.top_n,
            dedupe_window: settings
                .dedupe_window
                .map(|window| i64::try_from(window.as_millis()).unwrap_or(i64::MAX)),
            emit_counted: false,
            changed: FxHashMap::default(),
            latency_samples: Vec::new(),
            until_sample: 0,
            writer,
            metrics,
            epoch_started: None,
            gate: WriteGate::default(),
            reported_keys,
            reported_bytes: 0,
            buffers: Render::new(settings.hash_layout),
        })
    }

    /// Sends every counted event on (for the leaderboards' tag weights).
    pub fn emit_counted_events(&mut self) {
        self.emit_counted = true;
    }

    /// Caps the memory of the cached profiles (`None`: all).
    pub fn set_memory_budget(&mut self, bytes: Option<usize>) {
        self.table.set_memory_budget(bytes);
    }

    /// Writes every cached user's Redis keys from state (after a restore, so a
    /// Redis that lost data is repaired); returns the number of users.
    pub fn rewrite_all(&mut self) -> usize {
        let users: Vec<CompactString> = self.table.iter().map(|(u, _)| u.clone()).collect();
        let everything = UserChanges { tags: ChangedTags::ALL, purchased: true };
        for chunk in users.chunks(USERS_PER_REWRITE) {
            self.changed.extend(chunk.iter().map(|user| (user.clone(), everything)));
            let (batch, _unchanged_tags) = self.render();
            self.writer.redis(batch);
            self.changed.clear();
        }
        users.len()
    }

    /// Writes every changed user and publishes changed top tags.
    fn write_changes(&mut self) {
        let (mut batch, published) = self.render();
        batch.created_ms = std::mem::take(&mut self.latency_samples);
        self.writer.redis(batch);
        for (user, json) in published {
            self.writer.interest_tags(&user, &json);
        }
        self.changed.clear();
    }

    /// The Redis commands of every changed user, and the interest-tags
    /// messages of those whose top tags changed (now recorded as published).
    fn render(&mut self) -> (RedisBatch, Vec<(CompactString, Vec<u8>)>) {
        let mut out = self.writer.commands_buffer(self.buffers.batch_bytes);
        let mut published = Vec::new();
        let Self { table, store, changed, buffers, top_n, .. } = self;
        let Render { key, json, order, batch_bytes, interest, profiles } = buffers;
        for (user, changes) in changed.iter() {
            let profile = match table.get_mut(store, user.as_str()) {
                Ok(profile) => profile,
                Err(err) => panic!("cannot read profile state: {err}"),
            };
            key.clear();
            key.push_str(keys::USER_PROFILE_PREFIX);
            key.push_str(user);
            let changed_tags =
                (0..profile.scores.len()).filter(|&i| changes.tags.contains(i)).count();
            // Events always carry tags, but an HSET without fields would be
            // rejected with the whole batch: never send one.
            if changed_tags > 0 {
                out.command(2 + 2 * changed_tags, "HSET").arg(key.as_bytes());
                for (index, (tag, score)) in profile.scores.iter().enumerate() {
                    if changes.tags.contains(index) {
                        out.arg(tag.as_str().as_bytes()).arg_int(*score);
                    }
                }
            }
            if changes.purchased && !profile.purchased.is_empty() {
                key.clear();
                key.push_str(keys::USER_PURCHASED_PREFIX);
                key.push_str(user);
                out.command(2 + profile.purchased.len(), "SADD").arg(key.as_bytes());
                for product in &profile.purchased {
                    out.arg(product.as_bytes());
                }
            }
            let top = profile.top_tags(*top_n);
            let top_changed =
                profile.published_top.iter().map(Ustr::as_str).ne(top.iter().copied());
            // `UserInterestTag` holds `published_top` once this run wrote it.
            if top_changed || !profile.interest_written {
                json.clear();
                profile_json::write_tags(json, &top);
                interest.set(&mut out, user, json);
            }
            json.clear();
            profile_json::write_profile(json, user, profile, &top, order);
            profiles.set(&mut out, user, json);
            if top_changed {
                let message = InterestTagsJson { user_id: user, top_tags: &top };
                published.push((user.clone(), serde_json::to_vec(&message).unwrap_or_default()));
                let top: Vec<Ustr> = top.into_iter().map(Ustr::from).collect();
                profile.published_top = top;
            }
            profile.interest_written = true;
        }
        interest.flush(&mut out);
        profiles.flush(&mut out);
        *batch_bytes = out.bytes().len();
        (RedisBatch::new(out), published)
    }
}

impl EpochState for ProfilesState {
    type Record = ProfileEvent;
    type Output = ProfileOutput;

    fn apply(&mut self, records: &mut Vec<ProfileEvent>, out: &mut Vec<ProfileOutput>) {
        self.epoch_started.get_or_insert_with(Instant::now);
        for event in records.drain(..) {
            let profile = match self.table.get_mut(&self.store, event.user.as_str()) {
                Ok(profile) => profile,
                Err(err) => panic!("cannot read profile state: {err}"),
            };
            if !profile.first_sighting(&event, self.dedupe_window) {
                self.metrics.duplicate_events.inc();
                continue;
            }
            let user_id =
                *profile.id.get_or_insert_with(|| self.ids.issue(event.user.group(), &event.user));
            let tags = profile.apply(&event, &self.weights);
            let purchased = event.kind == EventType::Purchase;
            let counted = self.emit_counted.then(|| event.clone());
            if event.kind == EventType::View {
                out.push(ProfileOutput::Visit(Visit {
                    day: event.day,
                    product: event.product,
                    user_id,
                    user: event.user.clone(),
                }));
            }
            if self.until_sample == 0 {
                self.latency_samples.push(event.timestamp);
                self.until_sample = LATENCY_SAMPLE_EVERY;
            }
            self.until_sample -= 1;
            let changes = self.changed.entry(event.user).or_default();
            changes.tags.merge(tags);
            changes.purchased |= purchased;
            if let Some(event) = counted {
                out.push(ProfileOutput::Counted(event));
            }
        }
    }

    fn complete(&mut self, epoch: u64) {
        self.table.evict_over_budget();
        self.metrics.set_state_keys("users", &mut self.reported_keys, self.ids.users());
        let bytes = self.table.memory_bytes();
        self.metrics.set_state_memory("profiles", &mut self.reported_bytes, bytes);
        self.metrics.observe_epoch("profiles", self.epoch_started.take());
        self.metrics.epoch.set(i64::try_from(epoch).unwrap_or(i64::MAX));
        tracing::trace!(epoch, "profiles epoch complete");
    }

    fn write_out(&mut self, when: WriteOut) {
        if !self.changed.is_empty() && self.gate.open(when, &*self.writer) {
            self.write_changes();
        }
    }

    fn begin_snapshot(&mut self) {
        self.table.begin_snapshot();
        // Ids issued so far belong to this snapshot, like their profiles.
        self.ids.begin_snapshot();
    }

    fn continue_snapshot(&mut self, work: usize) -> Option<StateBatch> {
        if !self.ids.continue_snapshot(&mut self.snapshot_names, work) {
            return None;
        }
        match self.table.continue_snapshot(work) {
            Ok(Some(profiles)) => {
                let mut batch = std::mem::take(&mut self.snapshot_names);
                batch.append(profiles);
                Some(batch)
            }
            Ok(None) => None,
            Err(err) => panic!("cannot snapshot profile state: {err}"),
        }
    }
}
