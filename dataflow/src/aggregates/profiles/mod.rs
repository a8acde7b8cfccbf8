//! Per-user interest tags: the profile aggregate.
//!
//! Events are routed by user ([`route`]); the state ([`ProfilesState`])
//! holds each user's [`UserProfile`] and interns users ([`user_ids`]); the
//! Redis rendering writes the profile keys ([`json`] renders the
//! `user-profiles` document). Every view goes on, with its user's id, to
//! the unique-visitor aggregate.

pub mod json;
mod operator;
pub mod profile;
pub mod user_ids;

pub use operator::ProfilesState;
pub use profile::{ChangedTags, UserProfile};

use state::worker_for_key;

use crate::records::ProfileEvent;

/// The worker (of `peers`) that owns `event`'s user.
pub fn route(event: &ProfileEvent, peers: usize) -> u64 {
    worker_for_key(event.user.as_bytes(), peers) as u64
}
