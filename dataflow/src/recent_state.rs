//! The `events` list: the newest raw events across all workers.
//!
//! Every worker sends its epoch's newest events to worker 0, which keeps the
//! global newest `capacity` and, when they changed, rewrites the list in one
//! MULTI/EXEC (DEL + RPUSH, newest first): readers never see a half-written
//! list, and the result never depends on arrival order or on replays.

use std::rc::Rc;

use model::keys;

use crate::epochs::EpochState;
use crate::recent::RecentEvents;
use crate::records::RecentEvent;
use crate::redis_sink::RedisBatch;
use crate::writer::Writer;

/// Events per RPUSH command.
const EVENTS_PER_COMMAND: usize = 1_000;

/// Worker 0's recent-events state.
pub struct RecentState {
    recent: RecentEvents,
    changed: bool,
    writer: Rc<dyn Writer>,
}

impl std::fmt::Debug for RecentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentState").field("events", &self.recent.len()).finish()
    }
}

impl RecentState {
    /// Keeps the newest `capacity` events.
    pub fn new(capacity: usize, writer: Rc<dyn Writer>) -> Self {
        Self { recent: RecentEvents::new(capacity), changed: false, writer }
    }
}

impl EpochState for RecentState {
    type Record = RecentEvent;

    fn apply(&mut self, records: &mut Vec<RecentEvent>) {
        for event in records.drain(..) {
            if self.recent.admits(event.timestamp, &event.event_id) {
                self.recent.insert(event);
                self.changed = true;
            }
        }
    }

    fn complete(&mut self, _epoch: u64) {
        if !std::mem::take(&mut self.changed) {
            return;
        }
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        pipeline.del(keys::EVENTS).ignore();
        let newest = self.recent.newest_first();
        let mut commands = 1;
        for chunk in newest.chunks(EVENTS_PER_COMMAND) {
            let values: Vec<&[u8]> = chunk.iter().map(|e| e.json.as_slice()).collect();
            pipeline.rpush(keys::EVENTS, values).ignore();
            commands += 1;
        }
        self.writer.redis(RedisBatch { pipeline, commands });
    }
}
