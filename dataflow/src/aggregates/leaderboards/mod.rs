//! Live leaderboards: per day, the top K products by unique visitors, the
//! top K tags by the weight of the events carrying them, and per tag the top
//! K of the catalog's products carrying it, by unique visitors.
//!
//! The one place the job uses differential-dataflow ([`fragment`]): a
//! ranked top K must retract members as the counts under it move, which
//! is what differential's `reduce` maintains incrementally. It is fed the
//! changes of counts other aggregates own and checkpoint (unique visitors
//! from `visitors`, tag weights from [`tag_weights`]), never the events
//! themselves ([`changes`]); it is derived state, rebuilt at every restore
//! from the checkpointed counts. [`sink`] writes the boards to the sorted
//! sets of `model::keys` (`top:products:<day>`, `top:tags:<day>`,
//! `top:tag-products:<day>:<tag>`); [`catalog`] reads the product tags.

pub mod catalog;
pub mod changes;
pub mod fragment;
pub mod sink;
pub mod tag_weights;

use std::path::PathBuf;

pub use changes::CountChange;
pub use fragment::{Board, Restored, UvChange, leaderboards};
pub use tag_weights::{TagChange, TagWeightsState};

/// How the leaderboards are configured (`--leaderboards on`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardSettings {
    /// Members per board (K).
    pub size: usize,
    /// The catalog file; `None` reads the catalog from Redis.
    pub catalog: Option<PathBuf>,
}

use std::rc::Rc;

use compact_str::CompactString;
use timely::dataflow::Stream;
use ustr::Ustr;

use crate::aggregates::visitors::Retention;
use crate::epochs::{Snapshot, epoch_sink};
use crate::records::ProfileEvent;
use crate::weights::Weights;
use crate::writer::Writer;
use tag_weights::{DayTag, TagWeight};

/// What one worker needs to add the leaderboards to its dataflow.
#[allow(missing_debug_implementations, reason = "the state holds a store")]
pub struct WorkerLeaderboards {
    /// This worker's tag weights.
    pub tag_weights: TagWeightsState,
    /// The counts the fragment starts from.
    pub restored: Restored,
    /// This worker's share of the catalog's (product, tag) pairs.
    pub catalog: Vec<(CompactString, Ustr)>,
    /// Members per board.
    pub size: usize,
    /// Event-type weights.
    pub weights: Weights,
    /// Which days are kept.
    pub retention: Retention,
}

impl WorkerLeaderboards {
    /// Adds the tag weights (routed across `peers` workers, snapshotted
    /// every `every` epochs), the fragment over them and the unique-visitor
    /// changes, and its Redis sink on `writer`; returns the tag weights'
    /// snapshots for the checkpoint.
    pub fn build<'scope>(
        self,
        events: Stream<'scope, u64, Vec<ProfileEvent>>,
        visitors: Stream<'scope, u64, Vec<UvChange>>,
        peers: usize,
        writer: Rc<dyn Writer>,
        every: Option<u64>,
    ) -> Stream<'scope, u64, Vec<Snapshot>> {
        let sums = tag_weights::tag_weights(events, self.weights);
        let route = move |weight: &TagWeight| DayTag::route(weight, peers);
        let mut tag_weights = self.tag_weights;
        tag_weights.delete_expired_boards_through(Rc::clone(&writer));
        let tags = epoch_sink(sums, "TagWeights", route, tag_weights, every);
        let boards = leaderboards(visitors, tags.output, self.restored, self.catalog, self.size);
        sink::write_boards(boards, writer, self.retention);
        tags.snapshots
    }
}
