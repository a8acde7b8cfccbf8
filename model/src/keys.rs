//! The Redis key scheme, inherited from the original Node.js/Flink system.
//!
//! Existing readers of the original system look these keys up by name, so the
//! names are part of the contract. Builders write into a caller-owned buffer
//! where they are used per record on a hot path.

use std::fmt::Write as _;

/// Hash `userId` → JSON array of the user's top-N interest tags.
pub const USER_INTEREST_TAG: &str = "UserInterestTag";
/// Hash `userId` → JSON profile object (tag scores, top tags, counts, last event).
pub const USER_PROFILES: &str = "user-profiles";
/// Hash `<YYYY-MM-DD>:<productId>` → unique-visitor count.
pub const HOT_PAGEVIEW_COUNTS: &str = "hot:pageview_counts";
/// List of the most recent raw events, newest first.
pub const EVENTS: &str = "events";
/// Where the dataflow job builds a new [`EVENTS`] list before it `RENAME`s
/// it over the old one, so that readers never see it half written. Its hash
/// tag, `{events}`, puts it in the slot of `events` (whose whole name is
/// hashed), as a `RENAME` on a Redis Cluster needs; a `MULTI` block would
/// not do there, since a cluster routes `MULTI` and `EXEC` (which name no
/// key) to any node.
pub const EVENTS_NEXT: &str = "{events}:next";
/// Set of every product id in the catalog.
pub const CATALOG_PRODUCTS: &str = "catalog:products";
/// String `<lineage>:<id>`: the newest checkpoint of the dataflow job whose
/// outputs this Redis is known to hold in full (written by the job).
pub const CHECKPOINT_MARKER: &str = "tagflow:checkpoint";
/// Prefix of the dataflow job's per-worker sentinels
/// (`tagflow:writer:<worker>:{tagflow:checkpoint}`): each worker's Redis
/// writer sets its own to a token of its run and checks it at every
/// checkpoint; a missing or other token means Redis lost the job's writes
/// (flushed, or replaced).
pub const WRITER_SENTINEL_PREFIX: &str = "tagflow:writer:";

/// `tagflow:writer:<worker>:{tagflow:checkpoint}`. The hash tag puts every
/// sentinel in the slot of [`CHECKPOINT_MARKER`] (whose whole name is
/// hashed, having no braces), so that the script that sets the marker only
/// while a sentinel holds (keys in one slot) also runs on a Redis Cluster.
pub fn writer_sentinel(worker: usize) -> String {
    format!("{WRITER_SENTINEL_PREFIX}{worker}:{{{CHECKPOINT_MARKER}}}")
}

/// Prefix of the per-user tag score hashes (`user:profile:<userId>`).
pub const USER_PROFILE_PREFIX: &str = "user:profile:";
/// Prefix of the per-user purchased-product sets (`user:purchased:<userId>`).
pub const USER_PURCHASED_PREFIX: &str = "user:purchased:";
/// Prefix of the daily unique-visitor sets (`pageviews:<day>:<productId>`).
pub const PAGEVIEWS_PREFIX: &str = "pageviews:";
/// Prefix of product hashes (`product:<productId>`).
pub const PRODUCT_PREFIX: &str = "product:";
/// Prefix of the per-tag product index sets (`products:tag:<tag>`).
pub const TAG_INDEX_PREFIX: &str = "products:tag:";

/// Prefix of the daily product leaderboards (`top:products:<day>`).
pub const TOP_PRODUCTS_PREFIX: &str = "top:products:";
/// Prefix of the daily tag leaderboards (`top:tags:<day>`).
pub const TOP_TAGS_PREFIX: &str = "top:tags:";
/// Prefix of the daily per-tag product leaderboards
/// (`top:tag-products:<day>:<tag>`).
pub const TOP_TAG_PRODUCTS_PREFIX: &str = "top:tag-products:";

/// `top:products:<day>`: sorted set productId → unique visitors that day,
/// the day's top K products (ties: productId ascending).
pub fn top_products(day: &str) -> String {
    format!("{TOP_PRODUCTS_PREFIX}{day}")
}

/// `top:tags:<day>`: sorted set tag → weight of that day's events carrying
/// it (view 1, add_to_cart 3, purchase 5), the day's top K tags (ties: tag
/// ascending).
pub fn top_tags(day: &str) -> String {
    format!("{TOP_TAGS_PREFIX}{day}")
}

/// `top:tag-products:<day>:<tag>`: sorted set productId → unique visitors
/// that day, the top K of the catalog's products carrying `tag`.
pub fn top_tag_products(day: &str, tag: &str) -> String {
    format!("{TOP_TAG_PRODUCTS_PREFIX}{day}:{tag}")
}

/// `user:profile:<userId>`: hash tag → score.
pub fn user_profile(user_id: &str) -> String {
    format!("{USER_PROFILE_PREFIX}{user_id}")
}

/// `user:purchased:<userId>`: set of the productIds the user has purchased
/// (recommendations leave them out).
pub fn user_purchased(user_id: &str) -> String {
    format!("{USER_PURCHASED_PREFIX}{user_id}")
}

/// `pageviews:<day>:<productId>`: set of the userIds that viewed the product that day.
pub fn pageviews(day: &str, product_id: &str) -> String {
    let mut key = String::new();
    write_pageviews(&mut key, day, product_id);
    key
}

/// Writes `pageviews:<day>:<productId>` into `buf` (cleared first).
pub fn write_pageviews(buf: &mut String, day: &str, product_id: &str) {
    buf.clear();
    let _ = write!(buf, "{PAGEVIEWS_PREFIX}{day}:{product_id}");
}

/// `<day>:<productId>`: the field of [`HOT_PAGEVIEW_COUNTS`].
pub fn hot_pageview_field(day: &str, product_id: &str) -> String {
    format!("{day}:{product_id}")
}

/// `product:<productId>`: hash with the product's name, price and tags.
pub fn product(product_id: &str) -> String {
    format!("{PRODUCT_PREFIX}{product_id}")
}

/// `products:tag:<tag>`: set of the ids of products carrying `tag`.
pub fn tag_index(tag: &str) -> String {
    format!("{TAG_INDEX_PREFIX}{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_original_scheme() {
        assert_eq!(user_profile("u1"), "user:profile:u1");
        assert_eq!(user_purchased("u1"), "user:purchased:u1");
        assert_eq!(pageviews("2026-11-26", "p7"), "pageviews:2026-11-26:p7");
        assert_eq!(hot_pageview_field("2026-11-26", "p7"), "2026-11-26:p7");
        assert_eq!(product("p7"), "product:p7");
        assert_eq!(tag_index("shoes"), "products:tag:shoes");
        assert_eq!(writer_sentinel(3), "tagflow:writer:3:{tagflow:checkpoint}");
        assert_eq!(top_products("2026-11-26"), "top:products:2026-11-26");
        assert_eq!(top_tags("2026-11-26"), "top:tags:2026-11-26");
        assert_eq!(top_tag_products("2026-11-26", "a:b"), "top:tag-products:2026-11-26:a:b");
    }

    #[test]
    fn write_pageviews_reuses_the_buffer() {
        let mut buf = String::from("stale contents");
        write_pageviews(&mut buf, "2026-01-01", "p1");
        assert_eq!(buf, "pageviews:2026-01-01:p1");
    }
}
