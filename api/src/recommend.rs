//! The recommendation ranking, kept free of I/O so it can be tested and
//! reasoned about on its own.
//!
//! A user's interest tags are their top-N tags by score (ties by name, as
//! the dataflow job ranks them). A catalog product carrying at least one of
//! them is a candidate with
//!
//! `score = (sum of the user's scores of the matched tags) × (1 + ln(1 + UV today))`
//!
//! so interest dominates and today's popularity lifts products with equal
//! interest. Ranked by score, then UV, then product id; products the user
//! purchased are excluded. When fewer than `limit` candidates exist (cold or
//! unknown users have none), the rest are today's most popular products.

use std::cell::RefCell;

use model::Product;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::popularity::Popularity;

/// One recommended product.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Item<'a> {
    /// Product id.
    pub product_id: &'a str,
    /// Name.
    pub name: &'a str,
    /// Unit price.
    pub price: f64,
    /// All the product's tags.
    pub tags: &'a [String],
    /// The user's interest tags this product carries (why it is here);
    /// empty for a popularity fill-in.
    pub matched_tags: Vec<&'a str>,
    /// The ranking score (0 for a popularity fill-in).
    pub score: f64,
    /// Unique visitors today, from the day's leaderboards: 0 for a product
    /// on none of them (below its tags' K-th), exact otherwise.
    pub uv_today: u64,
}

/// Per-thread buffers, so ranking allocates no per-catalog arrays per request.
#[derive(Default)]
struct Scratch {
    sums: Vec<i64>,
    hit: Vec<bool>,
    touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

pub use model::profile::top_tags;

/// Ranks recommendations for a user with tag `scores` who purchased `purchased`.
pub fn recommend<'a, S: AsRef<str>>(
    catalog: &'a Catalog,
    popularity: &Popularity,
    scores: &[(S, i64)],
    top_n: usize,
    purchased: &[String],
    limit: usize,
) -> Vec<Item<'a>> {
    let interest = top_tags(scores, top_n);
    let excluded = |i: u32| purchased.iter().any(|p| catalog.by_id.get(p) == Some(&i));
    let order = |a: &(f64, u64, u32), b: &(f64, u64, u32)| {
        b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
    };
    // The best `limit` candidates, best first: a small sorted array, so most
    // candidates cost one comparison with the current worst.
    let mut ranked: Vec<(f64, u64, u32)> = Vec::with_capacity(limit + 1);
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let Scratch { sums, hit, touched } = &mut *scratch;
        sums.clear();
        sums.resize(catalog.len(), 0);
        hit.clear();
        hit.resize(catalog.len(), false);
        touched.clear();
        // Summed score of the matched interest tags, per product position.
        for (tag, score) in &interest {
            let Some(products) = catalog.by_tag.get(tag.as_ref()) else { continue };
            for &p in products {
                if !std::mem::replace(&mut hit[p as usize], true) {
                    touched.push(p);
                }
                sums[p as usize] += score;
            }
        }
        for &p in touched.iter() {
            let candidate = (sums[p as usize] as f64 * popularity.boost_of(p), popularity.of(p), p);
            if ranked.len() == limit
                && ranked.last().is_some_and(|worst| order(&candidate, worst).is_ge())
            {
                continue;
            }
            if excluded(p) {
                continue;
            }
            let at = ranked.partition_point(|r| order(r, &candidate).is_lt());
            ranked.insert(at, candidate);
            ranked.truncate(limit);
        }
    });
    let mut items: Vec<Item<'a>> = ranked
        .iter()
        .map(|&(score, uv, p)| {
            let product = &catalog.products[p as usize];
            // The product's own strings, in the user's interest order.
            let matched = interest
                .iter()
                .filter_map(|(tag, _)| product.tags.iter().find(|t| t.as_str() == tag.as_ref()))
                .map(String::as_str)
                .collect();
            item(product, matched, score, uv)
        })
        .collect();
    if items.len() < limit {
        for &p in &popularity.ranked {
            if items.len() >= limit {
                break;
            }
            if excluded(p) || ranked.iter().any(|r| r.2 == p) {
                continue;
            }
            if let Some(product) = catalog.products.get(p as usize) {
                items.push(item(product, Vec::new(), 0.0, popularity.of(p)));
            }
        }
    }
    items
}

fn item<'a>(
    product: &'a Product,
    matched_tags: Vec<&'a str>,
    score: f64,
    uv_today: u64,
) -> Item<'a> {
    Item {
        product_id: &product.product_id,
        name: &product.name,
        price: product.price,
        tags: &product.tags,
        matched_tags,
        score,
        uv_today,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let p = |id: &str, tags: &[&str]| Product {
            product_id: id.into(),
            name: id.to_uppercase(),
            price: 10.0,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        };
        Catalog::new(vec![
            p("p1", &["shoes", "nike"]),
            p("p2", &["shoes"]),
            p("p3", &["hats"]),
            p("p4", &["books"]),
        ])
    }

    fn scores(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
        pairs.iter().map(|(t, s)| ((*t).to_owned(), *s)).collect()
    }

    #[test]
    fn ranks_by_interest_then_popularity_and_explains() {
        let catalog = catalog();
        let popularity = Popularity::from_counts("d".into(), vec![0, 50, 9, 100]);
        let items = recommend(
            &catalog,
            &popularity,
            &scores(&[("shoes", 5), ("nike", 1), ("hats", 2)]),
            5,
            &[],
            3,
        );
        let ids: Vec<&str> = items.iter().map(|i| i.product_id).collect();
        // p2: 5 × (1 + ln 51) ≈ 24.7; p1: 6 × 1 = 6; p3: 2 × (1 + ln 10) ≈ 6.6.
        assert_eq!(ids, ["p2", "p3", "p1"]);
        assert_eq!(items[2].matched_tags, ["shoes", "nike"]);
        assert_eq!(items[0].uv_today, 50);
    }

    #[test]
    fn excludes_purchases_and_fills_with_popular_products() {
        let catalog = catalog();
        let popularity = Popularity::from_counts("d".into(), vec![0, 50, 9, 100]);
        let items =
            recommend(&catalog, &popularity, &scores(&[("shoes", 5)]), 5, &["p2".into()], 3);
        let ids: Vec<&str> = items.iter().map(|i| i.product_id).collect();
        assert_eq!(ids, ["p1", "p4", "p3"]);
        assert!(items[1].matched_tags.is_empty());
    }

    #[test]
    fn cold_users_get_the_most_popular() {
        let catalog = catalog();
        let popularity = Popularity::from_counts("d".into(), vec![0, 50, 9, 100]);
        let items = recommend::<&str>(&catalog, &popularity, &[], 5, &[], 2);
        let ids: Vec<&str> = items.iter().map(|i| i.product_id).collect();
        assert_eq!(ids, ["p4", "p2"]);
    }

    #[test]
    fn only_the_top_n_tags_count() {
        let catalog = catalog();
        let popularity = Popularity::from_counts("d".into(), vec![0; 4]);
        let items =
            recommend(&catalog, &popularity, &scores(&[("books", 1), ("shoes", 9)]), 1, &[], 10);
        assert_eq!(items[0].matched_tags, ["shoes"]);
        assert!(items.iter().all(|i| !i.matched_tags.contains(&"books")));
    }
}
