//! The deterministic product catalog, and loading it into Redis for the API.
//!
//! Products are derived from the seed alone, so the producer, the API and
//! the tests all agree on each product's tags without sharing files.

use model::{Product, keys};
use redis::Pipeline;

use crate::rng::Rng;
use crate::vocabulary::{BRANDS, CATEGORIES, KINDS, STYLES};

/// Random stream reserved for catalog generation (see [`Rng::fork`]).
const CATALOG_STREAM: u64 = 0xCA7A_1060;

/// The id of product number `index` (`p000042`).
pub fn product_id(index: usize) -> String {
    format!("p{index:06}")
}

/// Generates `count` products from `seed`: the same arguments always give
/// the same catalog.
pub fn generate(seed: u64, count: usize) -> Vec<Product> {
    let mut rng = Rng::fork(seed, CATALOG_STREAM);
    (0..count).map(|index| generate_one(&mut rng, index)).collect()
}

fn pick<'a>(rng: &mut Rng, words: &[&'a str]) -> &'a str {
    words[rng.below(words.len() as u64) as usize]
}

fn generate_one(rng: &mut Rng, index: usize) -> Product {
    let category = rng.below(CATEGORIES.len() as u64) as usize;
    let kind = pick(rng, KINDS[category]);
    let brand = pick(rng, BRANDS);
    let mut tags = vec![CATEGORIES[category].to_owned(), kind.to_owned()];
    if rng.chance(0.9) && !tags.iter().any(|t| t == brand) {
        tags.push(brand.to_owned());
    }
    // 0 to 5 style tags, so a product has 2 to 8 tags in all.
    let styles = rng.below(6);
    for _ in 0..styles {
        let style = pick(rng, STYLES);
        if !tags.iter().any(|t| t == style) {
            tags.push(style.to_owned());
        }
    }
    let base_price = [9.0, 25.0, 60.0, 150.0, 400.0][rng.below(5) as usize];
    let cents = (base_price * (0.5 + rng.next_f64()) * 100.0).round();
    let title_brand = brand[..1].to_uppercase() + &brand[1..];
    Product {
        product_id: product_id(index),
        name: format!("{title_brand} {} #{index}", kind.replace('-', " ")),
        price: cents / 100.0 - 0.01,
        tags,
    }
}

/// Writes the catalog into Redis with one pipelined round trip:
/// `product:<id>` hashes (`productId`, `name`, `price`, `tags` as JSON),
/// a `products:tag:<tag>` set per tag and the `catalog:products` set.
pub fn load_into_redis(
    conn: &mut impl redis::ConnectionLike,
    products: &[Product],
) -> redis::RedisResult<()> {
    let mut pipe = Pipeline::new();
    for product in products {
        let tags_json = serde_json::to_string(&product.tags).expect("strings serialize");
        pipe.hset_multiple(
            keys::product(&product.product_id),
            &[
                ("productId", product.product_id.clone()),
                ("name", product.name.clone()),
                ("price", product.price.to_string()),
                ("tags", tags_json),
            ],
        )
        .ignore();
        for tag in &product.tags {
            pipe.sadd(keys::tag_index(tag), &product.product_id).ignore();
        }
        pipe.sadd(keys::CATALOG_PRODUCTS, &product.product_id).ignore();
    }
    pipe.query::<()>(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_deterministic_and_valid() {
        let a = generate(42, 500);
        assert_eq!(a, generate(42, 500));
        assert_ne!(a, generate(43, 500));
        for (i, p) in a.iter().enumerate() {
            assert_eq!(p.product_id, product_id(i));
            assert!((1..=8).contains(&p.tags.len()), "{p:?}");
            let mut unique = p.tags.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), p.tags.len(), "duplicate tag in {p:?}");
            assert!(p.price > 0.0);
        }
    }

    #[test]
    fn a_larger_catalog_extends_a_smaller_one() {
        let small = generate(9, 10);
        let large = generate(9, 20);
        assert_eq!(small[..], large[..10]);
    }
}
