//! Daily unique visitors: the UV operator's state and its Redis output.
//!
//! Views arrive routed by (day, product). State holds one membership entry
//! per (day, product, user) and one count per (day, product), so a
//! persisted flush writes only what changed, never whole sets. Each epoch,
//! each changed (day, product) gets one `SADD pageviews:<day>:<product>`
//! with its new visitors, and the counts go out in one coalesced
//! `HSET hot:pageview_counts`.

use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use checkpoints::{Family, StateBatch, StateStore, Table};
use compact_str::CompactString;
use model::keys;
use rustc_hash::FxHashMap;

use crate::day::Day;
use crate::epochs::EpochState;
use crate::metrics::JobMetrics;
use crate::profiles_state::hset_chunks;
use crate::records::ViewEvent;
use crate::redis_sink::RedisBatch;
use crate::writer::Writer;

/// Separates the user from `<day>:<product>` in membership keys.
const MEMBER_SEPARATOR: char = '\u{1f}';

/// The UV operator's state on one worker.
pub struct VisitorsState {
    store: Rc<StateStore>,
    counts: Table<u64>,
    members: Table<bool>,
    /// New visitors this epoch, by `<day>:<product>`.
    changed: FxHashMap<String, Vec<CompactString>>,
    day_text: Option<(Day, String)>,
    field: String,
    member: String,
    writer: Rc<dyn Writer>,
    metrics: Arc<JobMetrics>,
    epoch_started: Option<Instant>,
}

impl std::fmt::Debug for VisitorsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorsState").field("products", &self.counts.len()).finish()
    }
}

impl VisitorsState {
    /// State over `store`; `fresh` means the store is known to be empty.
    pub fn new(
        store: Rc<StateStore>,
        fresh: bool,
        writer: Rc<dyn Writer>,
        metrics: Arc<JobMetrics>,
    ) -> Self {
        let (counts, members) = if fresh {
            (
                Table::with_empty_backing(Family::UniqueVisitors),
                Table::with_empty_backing(Family::UniqueVisitors),
            )
        } else {
            (Table::new(Family::UniqueVisitors), Table::new(Family::UniqueVisitors))
        };
        Self {
            store,
            counts,
            members,
            changed: FxHashMap::default(),
            day_text: None,
            field: String::new(),
            member: String::new(),
            writer,
            metrics,
            epoch_started: None,
        }
    }

    /// Sets `self.field` to `<day>:<product>` (the `hot:pageview_counts`
    /// field) and `self.member` to that plus the user.
    fn build_keys(&mut self, view: &ViewEvent) {
        if self.day_text.as_ref().is_none_or(|(day, _)| *day != view.day) {
            self.day_text = Some((view.day, view.day.to_string()));
        }
        let day = self.day_text.as_ref().map_or("", |(_, text)| text.as_str());
        self.field.clear();
        let _ = write!(self.field, "{day}:{}", view.product);
        self.member.clear();
        let _ = write!(self.member, "{}{MEMBER_SEPARATOR}{}", self.field, view.user);
    }

    fn render(&mut self) -> RedisBatch {
        let mut pipeline = redis::pipe();
        let mut commands = 0;
        let mut counts = Vec::with_capacity(self.changed.len());
        for (field, users) in self.changed.drain() {
            let (day, product) = field.split_once(':').unwrap_or((&field, ""));
            let members: Vec<&str> = users.iter().map(CompactString::as_str).collect();
            pipeline.sadd(keys::pageviews(day, product), members).ignore();
            commands += 1;
            let count = match self.counts.get(&self.store, &field) {
                Ok(count) => count.copied().unwrap_or(0),
                Err(err) => panic!("cannot read unique-visitor state: {err}"),
            };
            counts.push((CompactString::from(field), count));
        }
        commands += hset_chunks(&mut pipeline, keys::HOT_PAGEVIEW_COUNTS, &counts);
        RedisBatch { pipeline, commands }
    }
}

impl EpochState for VisitorsState {
    type Record = ViewEvent;

    fn apply(&mut self, records: &mut Vec<ViewEvent>) {
        self.epoch_started.get_or_insert_with(Instant::now);
        for view in records.drain(..) {
            self.build_keys(&view);
            let seen = match self.members.get_mut(&self.store, &self.member) {
                Ok(seen) => seen,
                Err(err) => panic!("cannot read unique-visitor state: {err}"),
            };
            if std::mem::replace(seen, true) {
                continue;
            }
            match self.counts.get_mut(&self.store, &self.field) {
                Ok(count) => *count += 1,
                Err(err) => panic!("cannot read unique-visitor state: {err}"),
            }
            match self.changed.get_mut(self.field.as_str()) {
                Some(users) => users.push(view.user),
                None => {
                    self.changed.insert(self.field.clone(), vec![view.user]);
                }
            }
        }
    }

    fn complete(&mut self, epoch: u64) {
        if !self.changed.is_empty() {
            let batch = self.render();
            self.writer.redis(batch);
        }
        let mut batch = StateBatch::new();
        let flushed = self
            .counts
            .flush_into(&mut batch)
            .and_then(|_| self.members.flush_into(&mut batch))
            .and_then(|_| self.store.commit(batch));
        if let Err(err) = flushed {
            panic!("cannot persist unique-visitor state: {err}");
        }
        self.metrics.set_state_keys("daily_visitors", self.members.len());
        self.metrics.observe_epoch("unique_visitors", self.epoch_started.take());
        tracing::trace!(epoch, "unique visitors epoch complete");
    }
}
