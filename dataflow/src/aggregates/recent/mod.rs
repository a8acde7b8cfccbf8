//! The newest events: the recent-events aggregate.
//!
//! Each worker's source keeps its epoch's newest events ([`RecentEvents`]),
//! all routed to worker 0 ([`route`]), whose state ([`RecentState`]) keeps
//! the global newest and renders the Redis `events` list.

pub mod events;
mod operator;

pub use events::RecentEvents;
pub use operator::RecentState;

/// Every recent event goes to worker 0.
pub fn route<T>(_event: &T) -> u64 {
    0
}
