//! The `events` list: the newest raw events across all workers.
//!
//! Every worker sends its epoch's newest events to worker 0, which keeps the
//! global newest `capacity` and, when they changed (at most once per
//! write-out, see `epochs.rs`), rewrites the list: it is built under
//! `{events}:next` (DEL + RPUSH, newest first) and RENAMEd over `events`, so
//! readers never see a half-written list, and the result never depends on
//! arrival order, on replays or on a message delivered twice. (Not a
//! MULTI/EXEC block: a Redis Cluster routes MULTI and EXEC to any node, which
//! left a connection queueing every later command, never run.)
//! The kept events are part of worker 0's checkpointed state (one `meta`
//! entry, rewritten at a boundary only if they changed).

use std::rc::Rc;

use model::keys;
use state::{Family, StateBatch, StateError, StateStore, codec};

use super::events::RecentEvents;
use crate::epochs::{EpochState, WriteOut};
use crate::records::RecentEvent;
use crate::redis_sink::RedisBatch;
use crate::resp::RespCommands;
use crate::write_pace::WriteGate;
use crate::writer::Writer;

/// `RENAME KEYS[1] KEYS[2]`, as a script.
const RENAME_SCRIPT: &str = "return redis.call('RENAME', KEYS[1], KEYS[2])";

/// Events per RPUSH command.
const EVENTS_PER_COMMAND: usize = 1_000;
/// The `meta` key the kept events are checkpointed under.
const STATE_KEY: &[u8] = b"recent_events";

/// Worker 0's recent-events state.
pub struct RecentState {
    recent: RecentEvents,
    /// Changed since the list was last written to Redis.
    changed: bool,
    /// Changed since the last snapshot.
    unsaved: bool,
    /// The snapshot taken at its beginning, until handed over.
    snapshot: Option<StateBatch>,
    writer: Rc<dyn Writer>,
    /// When the list was last written (for the write pace).
    gate: WriteGate,
}

impl std::fmt::Debug for RecentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentState").field("events", &self.recent.len()).finish()
    }
}

impl RecentState {
    /// Keeps the newest `capacity` events, starting from those in `store`.
    pub fn new(
        capacity: usize,
        store: &StateStore,
        writer: Rc<dyn Writer>,
    ) -> Result<Self, StateError> {
        let mut recent = RecentEvents::new(capacity);
        let saved = store.get_with(Family::Meta, STATE_KEY, codec::decode::<Vec<RecentEvent>>)?;
        if let Some(events) = saved {
            let events = events.map_err(|source| StateError::Codec {
                family: Family::Meta,
                key: String::from_utf8_lossy(STATE_KEY).into_owned(),
                source,
            })?;
            for event in events {
                recent.insert(event);
            }
        }
        Ok(Self {
            recent,
            changed: false,
            unsaved: false,
            snapshot: None,
            writer,
            gate: WriteGate::default(),
        })
    }

    /// Writes the list from state (after a restore, so a Redis that lost
    /// data is repaired); returns the number of events.
    pub fn rewrite_all(&mut self) -> usize {
        if !self.recent.is_empty() {
            self.write();
        }
        self.recent.len()
    }

    /// The whole list, built under [`keys::EVENTS_NEXT`] and renamed over
    /// `events` in one step (a pipeline retried after a partial failure
    /// starts the new list again).
    fn write(&self) {
        let mut out = RespCommands::new();
        out.command(2, "DEL").arg(keys::EVENTS_NEXT.as_bytes());
        for chunk in self.recent.newest_first().chunks(EVENTS_PER_COMMAND) {
            out.command(2 + chunk.len(), "RPUSH").arg(keys::EVENTS_NEXT.as_bytes());
            for event in chunk {
                out.arg(&event.json);
            }
        }
        // RENAME through a script: the `redis` crate's cluster pipeline
        // refuses a bare RENAME (two keys), and routes EVAL by its first key.
        out.command(5, "EVAL")
            .arg(RENAME_SCRIPT.as_bytes())
            .arg(b"2")
            .arg(keys::EVENTS_NEXT.as_bytes())
            .arg(keys::EVENTS.as_bytes());
        self.writer.redis(RedisBatch::new(out));
    }
}

impl EpochState for RecentState {
    type Record = RecentEvent;
    type Output = std::convert::Infallible;

    fn apply(&mut self, records: &mut Vec<RecentEvent>, _out: &mut Vec<Self::Output>) {
        for event in records.drain(..) {
            if self.recent.insert(event) {
                self.changed = true;
                self.unsaved = true;
            }
        }
    }

    fn complete(&mut self, _epoch: u64) {}

    fn write_out(&mut self, when: WriteOut) {
        if self.changed && self.gate.open(when, &*self.writer) {
            self.changed = false;
            self.write();
        }
    }

    /// The list is small (`--events-capacity` events): encoded at once.
    fn begin_snapshot(&mut self) {
        let mut batch = StateBatch::new();
        if std::mem::take(&mut self.unsaved) {
            let events: Vec<&RecentEvent> = self.recent.newest_first();
            match codec::encode(&events) {
                Ok(bytes) => batch.put(Family::Meta, STATE_KEY, &bytes),
                Err(err) => panic!("cannot snapshot recent events: {err}"),
            }
        }
        self.snapshot = Some(batch);
    }

    fn continue_snapshot(&mut self, _work: usize) -> Option<StateBatch> {
        self.snapshot.take()
    }
}
