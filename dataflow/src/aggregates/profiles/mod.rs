//! Per-user interest tags: the profile aggregate.
//!
//! Events are routed by user ([`route`]); the state ([`ProfilesState`])
//! holds each user's [`UserProfile`] and interns users ([`user_ids`]); the
//! Redis rendering writes the profile keys ([`json`] renders the
//! `user-profiles` document). An event whose type and id the user's
//! profile remembers ([`seen_ids`], `--dedupe-window`) is a duplicate and
//! changes nothing. Every counted view goes on, with its user's id, to the
//! unique-visitor aggregate, and with the leaderboards on every counted
//! event goes on to their tag weights ([`ProfileOutput`]).

pub mod json;
mod operator;
pub mod profile;
mod render;
pub mod seen_ids;
mod split;
pub mod user_ids;

pub use operator::ProfilesState;
pub use profile::{ChangedTags, UserProfile};
pub use split::split;

use state::worker_for_key;

use crate::records::{ProfileEvent, Visit};

/// The worker (of `peers`) that owns `event`'s user.
pub fn route(event: &ProfileEvent, peers: usize) -> u64 {
    worker_for_key(event.user.as_bytes(), peers) as u64
}

/// What the profile operator emits for a counted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileOutput {
    /// A view, for the unique visitors.
    Visit(Visit),
    /// The event itself, for the leaderboards' tag weights (only with the
    /// leaderboards on).
    Counted(ProfileEvent),
}
