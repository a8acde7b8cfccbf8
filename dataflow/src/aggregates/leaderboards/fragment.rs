//! The differential-dataflow fragment that ranks the counts.
//!
//! Its inputs are count changes ([`CountChange`]), each turned into the
//! retraction of the old count and the insertion of the new one, so each
//! input collection holds every current count exactly once:
//!
//! ```text
//!   unique visitors (day, product, uv) ──┬─▶ by day ───────────▶ top K ─▶ Products(day)
//!                                        └─▶ ⋈ catalog (product, tag)
//!                                              by (day, tag) ──▶ top K ─▶ TagProducts(day, tag)
//!   tag weights (day, tag, weight) ──────────▶ by day ───────────▶ top K ─▶ Tags(day)
//! ```
//!
//! A top K is a `reduce` per key over values `(Reverse(count), id)`, which
//! differential presents in ascending order: count descending, then id
//! ascending, so ties are broken by id and the first K values are the
//! board. When a count moves, differential re-ranks only the key it
//! belongs to and emits only the members that entered, left or changed
//! their score. The fragment holds no state of its own worth checkpointing:
//! a restore feeds it every checkpointed count as a change from zero
//! (`restored`), and it derives the same boards an uninterrupted run has.

use std::cmp::Reverse;

use compact_str::CompactString;
use differential_dataflow::{AsCollection, ExchangeData, VecCollection};
use serde::{Deserialize, Serialize};
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Concat;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::ToStream;
use ustr::Ustr;

use super::changes::CountChange;
use super::tag_weights::TagChange;
use crate::day::Day;

/// One day's unique-visitor count of a product changed.
pub type UvChange = CountChange<CompactString>;

/// A leaderboard: one Redis sorted set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Board {
    /// `top:products:<day>`.
    Products(Day),
    /// `top:tags:<day>`.
    Tags(Day),
    /// `top:tag-products:<day>:<tag>`.
    TagProducts(Day, Ustr),
}

impl Board {
    /// The day ranked.
    pub fn day(&self) -> Day {
        match self {
            Self::Products(day) | Self::Tags(day) | Self::TagProducts(day, _) => *day,
        }
    }

    /// The Redis key, with the day as `day_text`.
    pub fn key(&self, day_text: &str) -> String {
        match self {
            Self::Products(_) => model::keys::top_products(day_text),
            Self::Tags(_) => model::keys::top_tags(day_text),
            Self::TagProducts(_, tag) => model::keys::top_tag_products(day_text, tag),
        }
    }
}

/// A member of a board with its score.
pub type Entry = (Board, CompactString, u64);

/// The counts the fragment starts from (a restored state's, as changes
/// from zero; none on a fresh start).
#[derive(Debug, Default)]
pub struct Restored {
    /// Unique visitors per day and product.
    pub visitors: Vec<UvChange>,
    /// Tag weights per day and tag.
    pub tags: Vec<TagChange>,
}

/// The boards of the top `size` members, as a collection of entries; each
/// board's entries are produced on one worker (the one its key hashes to).
pub fn leaderboards<'scope>(
    visitors: Stream<'scope, u64, Vec<UvChange>>,
    tags: Stream<'scope, u64, Vec<TagChange>>,
    restored: Restored,
    catalog: Vec<(CompactString, Ustr)>,
    size: usize,
) -> VecCollection<'scope, u64, Entry> {
    let scope = visitors.scope();
    let visitors = counts(visitors.concat(restored.visitors.to_stream(scope)));
    let tags = counts(tags.concat(restored.tags.to_stream(scope)));
    let catalog = catalog.into_iter().map(|pair| (pair, 0_u64, 1_isize)).to_stream(scope);
    let catalog = catalog.as_collection();

    let products = top_k(
        visitors.clone().map(|(day, product, uv)| (day, (Reverse(uv), product))),
        size,
        "TopProducts",
    )
    .map(|(day, (Reverse(uv), product))| (Board::Products(day), product, uv));

    let tag_products = visitors
        .map(|(day, product, uv)| (product, (day, uv)))
        .join_map(catalog, |product, &(day, uv), tag| {
            ((day, *tag), (Reverse(uv), product.clone()))
        });
    let tag_products = top_k(tag_products, size, "TopTagProducts")
        .map(|((day, tag), (Reverse(uv), product))| (Board::TagProducts(day, tag), product, uv));

    let top_tags =
        top_k(tags.map(|(day, tag, weight)| (day, (Reverse(weight), tag))), size, "TopTags").map(
            |(day, (Reverse(weight), tag))| {
                (Board::Tags(day), CompactString::from(tag.as_str()), weight)
            },
        );

    products.concat(tag_products).concat(top_tags)
}

/// The current counts: each change retracts its old count and inserts its
/// new one (a zero count is no record).
fn counts<'scope, I: ExchangeData>(
    changes: Stream<'scope, u64, Vec<CountChange<I>>>,
) -> VecCollection<'scope, u64, (Day, I, u64)> {
    changes
        .unary(Pipeline, "CountUpdates", |_, _| {
            move |input, output| {
                input.for_each_stamp(|capability, batches| {
                    let Some(&time) = capability.least() else { return };
                    let mut session = output.session(&capability);
                    for batch in batches {
                        for CountChange { day, id, old, new } in batch.drain(..) {
                            if old > 0 {
                                session.give(((day, id.clone(), old), time, -1_isize));
                            }
                            if new > 0 {
                                session.give(((day, id, new), time, 1_isize));
                            }
                        }
                    }
                });
            }
        })
        .as_collection()
}

/// The first `size` values of each key: largest count first, then
/// smallest id.
fn top_k<'scope, K, I>(
    ranked: VecCollection<'scope, u64, (K, (Reverse<u64>, I))>,
    size: usize,
    name: &str,
) -> VecCollection<'scope, u64, (K, (Reverse<u64>, I))>
where
    K: ExchangeData + differential_dataflow::Hashable,
    I: ExchangeData,
{
    ranked.reduce_named(name, move |_key, input, output| {
        for (value, _) in input.iter().filter(|(_, diff)| *diff > 0).take(size) {
            output.push(((*value).clone(), 1_isize));
        }
    })
}
