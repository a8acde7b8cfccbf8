//! Daily unique visitors: the UV operator's state and its Redis output.
//!
//! Views arrive routed by the routing key `<day>:<product>` ([`route`]).
//! State holds one membership entry per (day, product, user), keyed
//! `<day>:<product>\x1f<user>` so that it shares the key group of its
//! routing key, and one count per (day, product): a snapshot writes only what
//! changed, never whole sets, and a rescaled restore moves each (day,
//! product) with all its visitors to the worker that now owns it. Each
//! write-out (as soon as Redis can take one, coalescing while it is busy),
//! each changed (day, product) gets one `SADD pageviews:<day>:<product>`
//! with its new visitors, and the counts go out in one coalesced
//! `HSET hot:pageview_counts`.

use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use checkpoints::{
    Family, ROUTING_SEPARATOR, StateBatch, StateError, StateStore, Table, key_group_of_parts,
    worker_for_group,
};
use compact_str::CompactString;
use model::keys;
use rustc_hash::FxHashMap;

use crate::day::DayText;
use crate::epochs::{EpochState, WriteOut};
use crate::metrics::JobMetrics;
use crate::records::ViewEvent;
use crate::redis_sink::{RedisBatch, SharedHash};
use crate::resp::RespCommands;
use crate::writer::Writer;

/// Separates the user from `<day>:<product>` in membership keys.
const MEMBER_SEPARATOR: char = ROUTING_SEPARATOR as char;
/// (Day, product) pairs per Redis pipeline when rewriting the whole state.
const FIELDS_PER_REWRITE: usize = 2_000;

/// Routes views to the worker (of `peers`) that owns their (day, product).
#[derive(Debug)]
pub struct ViewRouter {
    peers: usize,
    day: DayText,
}

impl ViewRouter {
    /// A router over `peers` workers.
    pub fn new(peers: usize) -> Self {
        Self { peers, day: DayText::default() }
    }

    /// The worker index of `view`.
    pub fn route(&mut self, view: &ViewEvent) -> u64 {
        let day = self.day.of(view.day);
        let group = key_group_of_parts(&[day.as_bytes(), b":", view.product.as_bytes()]);
        worker_for_group(group, self.peers) as u64
    }
}

/// The UV operator's state on one worker.
pub struct VisitorsState {
    store: Arc<StateStore>,
    counts: Table<u64>,
    members: Table<bool>,
    /// New visitors this epoch, by `<day>:<product>`.
    changed: FxHashMap<String, Vec<CompactString>>,
    day_text: DayText,
    field: String,
    member: String,
    writer: Rc<dyn Writer>,
    metrics: Arc<JobMetrics>,
    epoch_started: Option<Instant>,
    /// Keys this worker last reported to the state-size metric.
    reported_keys: usize,
}

impl std::fmt::Debug for VisitorsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorsState").field("products", &self.counts.len()).finish()
    }
}

impl VisitorsState {
    /// State over `store`, loading everything it holds into memory.
    pub fn new(
        store: Arc<StateStore>,
        writer: Rc<dyn Writer>,
        metrics: Arc<JobMetrics>,
    ) -> Result<Self, StateError> {
        let mut counts = Table::new(Family::VisitorCounts);
        counts.preload(&store)?;
        let mut members = Table::new(Family::UniqueVisitors);
        members.preload(&store)?;
        let mut reported_keys = 0;
        metrics.set_state_keys("daily_visitors", &mut reported_keys, members.len());
        Ok(Self {
            store,
            counts,
            members,
            changed: FxHashMap::default(),
            day_text: DayText::default(),
            field: String::new(),
            member: String::new(),
            writer,
            metrics,
            epoch_started: None,
            reported_keys,
        })
    }

    /// Writes every (day, product)'s visitor set and count from state
    /// (after a restore, so a Redis that lost data is repaired); returns the
    /// number of (day, product) pairs.
    pub fn rewrite_all(&mut self) -> usize {
        let mut all: FxHashMap<String, Vec<CompactString>> = FxHashMap::default();
        for (member, _) in self.members.iter() {
            if let Some((field, user)) = member.split_once(MEMBER_SEPARATOR) {
                all.entry(field.to_owned()).or_default().push(user.into());
            }
        }
        let pairs = all.len();
        let mut all = all.into_iter();
        loop {
            self.changed.extend(all.by_ref().take(FIELDS_PER_REWRITE));
            if self.changed.is_empty() {
                break;
            }
            let batch = self.render();
            self.writer.redis(batch);
        }
        pairs
    }

    /// Sets `self.field` to `<day>:<product>` (the `hot:pageview_counts`
    /// field) and `self.member` to that plus the user.
    fn build_keys(&mut self, view: &ViewEvent) {
        let day = self.day_text.of(view.day);
        self.field.clear();
        let _ = write!(self.field, "{day}:{}", view.product);
        self.member.clear();
        let _ = write!(self.member, "{}{MEMBER_SEPARATOR}{}", self.field, view.user);
    }

    fn render(&mut self) -> RedisBatch {
        let mut out = RespCommands::new();
        let mut counts = SharedHash::new(keys::HOT_PAGEVIEW_COUNTS);
        let mut count_text = String::new();
        for (field, users) in self.changed.drain() {
            let (day, product) = field.split_once(':').unwrap_or((&field, ""));
            out.command(2 + users.len(), "SADD").arg(keys::pageviews(day, product).as_bytes());
            for user in &users {
                out.arg(user.as_bytes());
            }
            let count = match self.counts.get(&self.store, &field) {
                Ok(count) => count.copied().unwrap_or(0),
                Err(err) => panic!("cannot read unique-visitor state: {err}"),
            };
            count_text.clear();
            let _ = write!(count_text, "{count}");
            counts.set(&mut out, &field, count_text.as_bytes());
        }
        counts.flush(&mut out);
        RedisBatch::new(out)
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
        self.metrics.set_state_keys("daily_visitors", &mut self.reported_keys, self.members.len());
        self.metrics.observe_epoch("unique_visitors", self.epoch_started.take());
        tracing::trace!(epoch, "unique visitors epoch complete");
    }

    fn write_out(&mut self, when: WriteOut) {
        if !self.changed.is_empty() && (when == WriteOut::Now || self.writer.redis_ready()) {
            let batch = self.render();
            self.writer.redis(batch);
        }
    }

    fn snapshot(&mut self, batch: &mut StateBatch) {
        let flushed = self.counts.flush_into(batch).and_then(|_| self.members.flush_into(batch));
        if let Err(err) = flushed {
            panic!("cannot snapshot unique-visitor state: {err}");
        }
    }
}
