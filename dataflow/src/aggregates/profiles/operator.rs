//! Per-user tag scores: the profile operator's state and its Redis output.
//!
//! Events arrive routed by user. An event whose type and id the user's
//! profile remembers within `--dedupe-window` is a duplicate: it is counted in
//! `tagflow_duplicate_events_total` and changes nothing. The first event of
//! a user issues its interned id (`user_ids.rs`); every counted view goes
//! on, with that id, to the unique-visitor operator as a [`Visit`], and
//! with the leaderboards on every counted event goes on to their tag
//! weights. Each write-out (as soon as Redis can take one, coalescing while
//! it is busy, see `epochs.rs`) writes every changed user once, in
//! pipelines of a few megabytes (`render.rs` says what each user's
//! commands are): the first when the write-out opens, each next one when
//! the Redis writer is ready again, and at a checkpoint all of them at
//! once. A user whose top-N changed also gets a message on
//! `user-interest-tags-topic`. All writes are absolute values and every
//! changed field is written after its change, so replaying events after a
//! restore converges to exactly the same keys.

use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use compact_str::CompactString;
use model::EventType;
use state::{CommitWaker, Family, MemoryPressure, StateBatch, StateError, StateKey, StateStore};

use super::ProfileOutput;
use super::profile::ProfileTable;
use super::render::{ChangedUsers, InterestTagsMessage, PIPELINE_BYTES, Render, UserChanges};
use super::user_ids::UserIdIssuer;
use crate::aggregates::AggregateSettings;
use crate::epochs::{EpochState, WriteOut};
use crate::metrics::JobMetrics;
use crate::records::{ProfileEvent, Visit};
use crate::redis_sink::RedisBatch;
use crate::weights::Weights;
use crate::write_pace::WriteGate;
use crate::writer::Writer;

/// Users listed as changed at a time when rewriting the whole state.
const USERS_PER_REWRITE: usize = 5_000;
/// Changed users the map keeps room for once a write-out is done.
const CHANGED_KEPT: usize = 1 << 16;
/// One event in this many has its end-to-end latency observed.
const LATENCY_SAMPLE_EVERY: u32 = 16;

/// The profile operator's state on one worker.
pub struct ProfilesState {
    store: Arc<StateStore>,
    table: ProfileTable,
    ids: UserIdIssuer,
    /// Names of the ids issued before the snapshot in progress began.
    snapshot_names: StateBatch,
    weights: Weights,
    /// `--dedupe-window` in ms (`None`: off).
    dedupe_window: Option<i64>,
    /// Whether counted events go on (to the leaderboards).
    emit_counted: bool,
    changed: ChangedUsers,
    /// A write-out is under way: some changed users are not written yet.
    draining: bool,
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
    render: Render,
}

impl std::fmt::Debug for ProfilesState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfilesState").field("users", &self.table.len()).finish()
    }
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
        let mut table = ProfileTable::new(Family::Profiles);
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
            dedupe_window: settings
                .dedupe_window
                .map(|window| i64::try_from(window.as_millis()).unwrap_or(i64::MAX)),
            emit_counted: false,
            changed: ChangedUsers::default(),
            draining: false,
            latency_samples: Vec::new(),
            until_sample: 0,
            writer,
            metrics,
            epoch_started: None,
            gate: WriteGate::default(),
            reported_keys,
            reported_bytes: 0,
            render: Render::new(settings.hash_layout, settings.top_n),
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
    /// Publishes nothing on `user-interest-tags-topic`: the published top
    /// tags are part of the state.
    pub fn rewrite_all(&mut self) -> usize {
        let users: Vec<CompactString> = self.table.iter().map(|(u, _)| u.clone()).collect();
        for chunk in users.chunks(USERS_PER_REWRITE) {
            self.changed.extend(chunk.iter().map(|user| (user.clone(), UserChanges::EVERYTHING)));
            while !self.changed.is_empty() {
                let _not_published = self.write_pipeline();
            }
        }
        users.len()
    }

    /// Writes one pipeline of changed users (see `render.rs`), or with
    /// `all`, pipelines until every changed user is written, and publishes
    /// the changed top tags. The latency samples go with the pipeline that
    /// writes the last changed user.
    fn write_changes(&mut self, all: bool) {
        loop {
            let published = self.write_pipeline();
            for (user, json) in published {
                self.writer.interest_tags(&user, &json);
            }
            if self.changed.is_empty() || !all {
                break;
            }
        }
        self.draining = !self.changed.is_empty();
        if !self.draining {
            // A catch-up's write-out can leave room for millions of users.
            self.changed.shrink_to(CHANGED_KEPT);
        }
    }

    /// Renders one pipeline of changed users and queues it; returns the
    /// interest-tags messages of its users whose top tags changed.
    fn write_pipeline(&mut self) -> Vec<InterestTagsMessage> {
        let mut out = self.writer.commands_buffer(self.render.pipeline_bytes);
        let mut published = Vec::new();
        self.render.render(
            &mut out,
            &mut self.table,
            &self.store,
            &mut self.changed,
            &mut published,
            PIPELINE_BYTES,
        );
        let mut batch = RedisBatch::new(out);
        if self.changed.is_empty() {
            batch.created_ms = std::mem::take(&mut self.latency_samples);
        }
        self.writer.redis(batch);
        published
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
        if self.changed.is_empty() {
            return;
        }
        // A write-out the gate opened goes on, a pipeline each time the
        // writer is ready, until every changed user is written.
        let draining =
            self.draining && when == WriteOut::IfWriterReady && self.writer.redis_ready();
        if draining || self.gate.open(when, &*self.writer) {
            self.write_changes(when == WriteOut::Now);
        }
    }

    fn begin_snapshot(&mut self) {
        self.table.begin_snapshot();
        // Ids issued so far belong to this snapshot, like their profiles.
        self.ids.begin_snapshot();
    }

    fn memory_pressure(&mut self) -> MemoryPressure {
        self.table.memory_pressure()
    }

    fn wake_on_commit(&mut self, wake: CommitWaker) {
        self.table.wake_on_commit(wake);
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
