//! Writing the boards to Redis as sorted sets.
//!
//! Each board's entries arrive on the worker that ranked it, so one writer
//! owns each key. The sink keeps a mirror of every board it wrote (at most
//! K members each) and, once the frontier has passed the changes, applies
//! them and writes each changed board: `ZADD` of the members that entered
//! or changed score and `ZREM` of those that left, in one pipeline through
//! the worker's Redis writer as soon as it is ready for more (coalescing
//! while it is busy). Values are absolute, so a rewrite is harmless.
//!
//! The first write of a board in a run replaces the key whole (`DEL`, then
//! `ZADD` of every member): a restore feeds the fragment every checkpointed
//! count, so every restored board is rewritten at once, and members an
//! earlier run wrote after the checkpoint it was restored from cannot
//! linger. With a retention, every write sets the key's `EXPIREAT` (the
//! midnight its day expires, as for `pageviews:*`), and a board of an
//! expired day is deleted and forgotten instead of written.

use std::rc::Rc;
use std::time::Duration;

use compact_str::CompactString;
use differential_dataflow::VecCollection;
use rustc_hash::{FxHashMap, FxHashSet};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::fragment::{Board, Entry};
use crate::aggregates::visitors::Retention;
use crate::day::DayText;
use crate::epochs::WriteOut;
use crate::redis_sink::RedisBatch;
use crate::resp::RespCommands;
use crate::write_pace::WriteGate;
use crate::writer::Writer;

/// Members per `ZADD` or `ZREM` command.
const MEMBERS_PER_COMMAND: usize = 500;
/// How soon a sink whose writer was busy looks again.
const RETRY: Duration = Duration::from_millis(5);

/// What one board holds in Redis, as far as this run knows.
#[derive(Debug, Default)]
struct Mirror {
    /// Member → score.
    members: FxHashMap<CompactString, u64>,
    /// Members changed since the board was last written.
    changed: FxHashSet<CompactString>,
    /// Whether this run wrote the key whole already.
    written: bool,
}

/// The boards of one worker and their unwritten changes.
struct Boards {
    boards: FxHashMap<Board, Mirror>,
    dirty: FxHashSet<Board>,
    retention: Retention,
    day_text: DayText,
}

impl Boards {
    /// Applies `updates` (of times the frontier passed), in time order and
    /// retractions first within a time.
    fn apply(&mut self, mut updates: Vec<(Entry, u64, isize)>) {
        updates.sort_by_key(|(_, time, diff)| (*time, *diff));
        for ((board, member, score), _, diff) in updates {
            let mirror = self.boards.entry(board.clone()).or_default();
            if diff > 0 {
                mirror.members.insert(member.clone(), score);
            } else if mirror.members.get(&member) == Some(&score) {
                mirror.members.remove(&member);
            } else {
                // An older score of a member already replaced.
                continue;
            }
            mirror.changed.insert(member);
            self.dirty.insert(board);
        }
    }

    /// The commands that bring Redis up to date with every dirty board.
    fn render(&mut self) -> RespCommands {
        let mut out = RespCommands::new();
        let oldest_kept = self.retention.oldest_kept();
        for board in self.dirty.drain() {
            let day = board.day();
            let key = board.key(self.day_text.of(day));
            if oldest_kept.is_some_and(|oldest| day < oldest) {
                self.boards.remove(&board);
                out.command(2, "DEL").arg(key.as_bytes());
                continue;
            }
            let Some(mirror) = self.boards.get_mut(&board) else { continue };
            let mut added: Vec<(&CompactString, u64)> = Vec::new();
            let mut removed: Vec<&CompactString> = Vec::new();
            if mirror.written {
                for member in &mirror.changed {
                    match mirror.members.get(member) {
                        Some(&score) => added.push((member, score)),
                        None => removed.push(member),
                    }
                }
            } else {
                out.command(2, "DEL").arg(key.as_bytes());
                added.extend(mirror.members.iter().map(|(member, &score)| (member, score)));
            }
            for chunk in added.chunks(MEMBERS_PER_COMMAND) {
                out.command(2 + 2 * chunk.len(), "ZADD").arg(key.as_bytes());
                for (member, score) in chunk {
                    out.arg_int(i64::try_from(*score).unwrap_or(i64::MAX)).arg(member.as_bytes());
                }
            }
            for chunk in removed.chunks(MEMBERS_PER_COMMAND) {
                out.command(2 + chunk.len(), "ZREM").arg(key.as_bytes());
                for member in chunk {
                    out.arg(member.as_bytes());
                }
            }
            if !added.is_empty()
                && let Some(at) = self.retention.expires_at(day)
            {
                out.command(3, "EXPIREAT").arg(key.as_bytes()).arg_int(at);
            }
            mirror.written = true;
            mirror.changed.clear();
            if mirror.members.is_empty() {
                // Redis dropped the emptied key; a later member rewrites it.
                self.boards.remove(&board);
            }
        }
        out
    }
}

/// Writes the boards of `entries` through `writer`.
pub fn write_boards(
    entries: VecCollection<'_, u64, Entry>,
    writer: Rc<dyn Writer>,
    retention: Retention,
) {
    let stream = entries.inner;
    let scope = stream.scope();
    let mut builder = OperatorBuilder::new("LeaderboardWriter".to_owned(), scope);
    let activator = scope.activator_for(builder.operator_info().address);
    let mut input = builder.new_input(stream, Pipeline);
    builder.build(move |_capabilities| {
        let mut boards = Boards {
            boards: FxHashMap::default(),
            dirty: FxHashSet::default(),
            retention,
            day_text: DayText::default(),
        };
        let mut pending: Vec<(Entry, u64, isize)> = Vec::new();
        let mut gate = WriteGate::default();
        move |frontiers| {
            input.for_each_stamp(|_, batches| {
                for batch in batches {
                    pending.append(batch);
                }
            });
            let frontier = &frontiers[0];
            let ready: Vec<_> =
                pending.extract_if(.., |(_, time, _)| !frontier.less_equal(time)).collect();
            if !ready.is_empty() {
                boards.apply(ready);
            }
            if boards.dirty.is_empty() {
                return;
            }
            let when = if frontier.is_empty() { WriteOut::Now } else { WriteOut::IfWriterReady };
            if gate.open(when, &*writer) {
                let commands = boards.render();
                writer.redis(RedisBatch::new(commands));
            } else {
                activator.activate_after(RETRY);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::day::{Calendar, Day};

    fn boards() -> Boards {
        Boards {
            boards: FxHashMap::default(),
            dirty: FxHashSet::default(),
            retention: Retention::new(0, Calendar::new("UTC").unwrap()),
            day_text: DayText::default(),
        }
    }

    fn text(out: &RespCommands) -> String {
        String::from_utf8_lossy(out.bytes()).replace("\r\n", " ")
    }

    #[test]
    fn the_first_write_replaces_the_key_and_later_ones_change_members() {
        let mut b = boards();
        let board = Board::Products(Day(0));
        b.apply(vec![
            ((board.clone(), "p1".into(), 3), 1, 1),
            ((board.clone(), "p2".into(), 2), 1, 1),
        ]);
        let first = text(&b.render());
        assert!(first.starts_with("*2 $3 DEL $23 top:products:1970-01-01 *6 $4 ZADD"), "{first}");
        // p2 leaves, p1's score moves from 3 to 4 (retractions apply first
        // within a time), p3 enters.
        b.apply(vec![
            ((board.clone(), "p1".into(), 4), 2, 1),
            ((board.clone(), "p1".into(), 3), 2, -1),
            ((board.clone(), "p2".into(), 2), 2, -1),
            ((board.clone(), "p3".into(), 1), 3, 1),
        ]);
        let second = text(&b.render());
        assert!(!second.contains("DEL"), "{second}");
        assert!(second.contains("ZREM $23 top:products:1970-01-01 $2 p2"), "{second}");
        let mirror = &b.boards[&board];
        assert_eq!(mirror.members.len(), 2);
        assert_eq!((mirror.members["p1"], mirror.members["p3"]), (4, 1));
        assert!(b.dirty.is_empty() && mirror.changed.is_empty());
    }
}
