//! Daily unique visitors per product: the unique-visitor aggregate.
//!
//! Visits (views with their user's interned id, from the profile
//! aggregate) are routed by day and product ([`ViewRouter`], [`VisitKey`]);
//! the state ([`VisitorsState`]) holds one [`VisitorSet`] of user ids per
//! day and product, within the [`Retention`]; the Redis rendering writes
//! `pageviews:<day>:<product>` and `hot:pageview_counts`.

mod key;
mod operator;
pub mod retention;
pub mod set;

pub use key::{ViewRouter, VisitKey, visit_group};
pub use operator::VisitorsState;
pub use retention::Retention;
pub use set::VisitorSet;
