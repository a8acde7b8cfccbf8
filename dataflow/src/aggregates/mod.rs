//! The job's aggregates, one folder each, each owning the path from an
//! event to its route, its state and its Redis rendering:
//!
//! - [`profiles`]: per-user tag scores, and the users' interned ids;
//! - [`visitors`]: daily unique visitors per product;
//! - [`recent`]: the newest events;
//! - [`leaderboards`]: the daily top products, tags and products per tag,
//!   ranked by differential-dataflow from the counts of the others.
//!
//! [`Aggregates`] opens the three over one worker's store and rewrites
//! Redis from them: the one place both the job (after a restore) and
//! `dataflow resync-redis` do it.

pub mod leaderboards;
pub mod profiles;
pub mod recent;
pub mod visitors;

use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use model::SharedHashLayout;
use state::{StateError, StateStore};

use crate::metrics::JobMetrics;
use crate::weights::Weights;
use crate::writer::Writer;
use profiles::ProfilesState;
use profiles::user_ids::UserNames;
use recent::RecentState;
use visitors::{Retention, VisitorsState};

/// How the aggregates are configured.
#[derive(Debug, Clone)]
pub struct AggregateSettings {
    /// Event-type weights of the tag scores.
    pub weights: Weights,
    /// Interest tags per user.
    pub top_n: usize,
    /// How long (in event time, behind a user's newest event) an event id
    /// is remembered, so that a duplicate counts once (`None`: not at all).
    pub dedupe_window: Option<std::time::Duration>,
    /// Length of the `events` list.
    pub events_capacity: usize,
    /// Days of unique visitors kept.
    pub retention: Retention,
    /// Bytes of profiles and of visitor sets cached in memory (`None`: all).
    pub memory: Option<(usize, usize)>,
    /// Where fields of the shared hashes go (`--shared-hash-shards`).
    pub hash_layout: SharedHashLayout,
}

/// The three aggregates of one worker.
#[allow(missing_debug_implementations, reason = "the states hold writers")]
pub struct Aggregates {
    /// Per-user tag scores.
    pub profiles: ProfilesState,
    /// Daily unique visitors.
    pub visitors: VisitorsState,
    /// The newest events.
    pub recent: RecentState,
}

/// What [`Aggregates::rewrite_all`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// Users.
    pub users: usize,
    /// (Day, product) pairs.
    pub pairs: usize,
    /// Recent events.
    pub events: usize,
}

impl std::ops::AddAssign for Rewritten {
    fn add_assign(&mut self, other: Self) {
        self.users += other.users;
        self.pairs += other.pairs;
        self.events += other.events;
    }
}

impl Aggregates {
    /// The aggregates over `store`, which holds the key groups `groups`,
    /// writing through `writer`.
    pub fn open(
        store: &Arc<StateStore>,
        groups: Range<u16>,
        settings: &AggregateSettings,
        writer: &Rc<dyn Writer>,
        metrics: &Arc<JobMetrics>,
    ) -> Result<Self, StateError> {
        let (profiles_memory, visitors_memory) = settings.memory.unzip();
        let profiles = ProfilesState::new(
            Arc::clone(store),
            groups.clone(),
            profiles_memory,
            settings,
            Rc::clone(writer),
            Arc::clone(metrics),
        )?;
        let visitors = VisitorsState::new(
            Arc::clone(store),
            visitors_memory,
            settings,
            groups,
            Rc::clone(writer),
            Arc::clone(metrics),
        )?;
        let recent = RecentState::new(settings.events_capacity, store, Rc::clone(writer))?;
        Ok(Self { profiles, visitors, recent })
    }

    /// Caps the memory of the cached profiles and visitor sets (`None`:
    /// cache everything), from their next completed epoch on.
    pub fn set_memory_budgets(&mut self, memory: Option<(usize, usize)>) {
        let (profiles, visitors) = memory.unzip();
        self.profiles.set_memory_budget(profiles);
        self.visitors.set_memory_budget(visitors);
    }

    /// Writes every Redis key of the three from state (a Redis that lost
    /// data is repaired), naming unique visitors through `names`. It walks
    /// the cached entries: open the aggregates without a memory bound to
    /// rewrite everything.
    pub fn rewrite_all(&mut self, names: &dyn UserNames) -> Result<Rewritten, StateError> {
        Ok(Rewritten {
            users: self.profiles.rewrite_all(),
            pairs: self.visitors.rewrite_all(names)?,
            events: self.recent.rewrite_all(),
        })
    }
}
