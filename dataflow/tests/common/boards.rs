//! An independent recomputation of the leaderboards from the raw events and
//! the catalog, and their comparison with Redis.
//!
//! Written from the specification, sharing no code with the job:
//! per UTC day, the top K products by unique visitors (views by distinct
//! users), the top K tags by the summed weights (view 1, add_to_cart 3,
//! purchase 5) of the events carrying them (each tag once per event), and
//! per catalog tag the top K of the catalog's products carrying it that
//! were viewed that day; count descending, ties by id ascending.

use std::collections::{BTreeMap, BTreeSet};

use redis::Commands;
use testkit::utc_date;

use super::oracle::valid_event;

/// Redis key → member → score.
pub type Boards = BTreeMap<String, BTreeMap<String, u64>>;

/// The boards of `raw_events`, `k` members each, over `catalog` (product →
/// tags).
pub fn expected_boards(
    raw_events: &[Vec<u8>],
    catalog: &BTreeMap<String, Vec<String>>,
    k: usize,
) -> Boards {
    let mut visitors: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut weights: BTreeMap<(String, String), u64> = BTreeMap::new();
    for raw in raw_events {
        let Some(event) = valid_event(raw) else { continue };
        let day = utc_date(event["timestamp"].as_i64().unwrap());
        let weight = match event["eventType"].as_str().unwrap() {
            "view" => 1,
            "add_to_cart" => 3,
            _ => 5,
        };
        let tags: BTreeSet<&str> =
            event["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        for tag in tags {
            *weights.entry((day.clone(), tag.to_owned())).or_default() += weight;
        }
        if weight == 1 {
            let product = event["productId"].as_str().unwrap().to_owned();
            let user = event["userId"].as_str().unwrap().to_owned();
            visitors.entry((day, product)).or_default().insert(user);
        }
    }
    let mut by_day: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for ((day, product), users) in &visitors {
        by_day.entry(day.clone()).or_default().push((product.clone(), users.len() as u64));
    }
    let mut boards = Boards::new();
    for (day, products) in &by_day {
        boards.insert(format!("top:products:{day}"), top(products.clone(), k));
        let mut per_tag: BTreeMap<&str, Vec<(String, u64)>> = BTreeMap::new();
        for (product, uv) in products {
            for tag in catalog.get(product).into_iter().flatten() {
                per_tag.entry(tag).or_default().push((product.clone(), *uv));
            }
        }
        for (tag, members) in per_tag {
            boards.insert(format!("top:tag-products:{day}:{tag}"), top(members, k));
        }
    }
    let mut tags_by_day: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for ((day, tag), weight) in weights {
        tags_by_day.entry(day).or_default().push((tag, weight));
    }
    for (day, tags) in tags_by_day {
        boards.insert(format!("top:tags:{day}"), top(tags, k));
    }
    boards
}

/// The first `k` of `members` by score descending, then id ascending.
fn top(mut members: Vec<(String, u64)>, k: usize) -> BTreeMap<String, u64> {
    members.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    members.into_iter().take(k).collect()
}

/// Every `top:*` sorted set of the Redis database at `redis_url`.
pub fn redis_boards(redis_url: &str) -> Boards {
    let mut conn = redis::Client::open(redis_url).unwrap().get_connection().unwrap();
    let keys: Vec<String> =
        conn.scan_match::<_, String>("top:*").unwrap().collect::<Result<_, _>>().unwrap();
    let mut boards = Boards::new();
    for key in keys {
        let members: Vec<(String, u64)> = conn.zrange_withscores(&key, 0, -1).unwrap();
        boards.insert(key, members.into_iter().collect());
    }
    boards
}

/// The differences between Redis's boards and `expected`, as readable
/// lines (at most 20; empty when equal).
pub fn board_differences(redis_url: &str, expected: &Boards) -> Vec<String> {
    let actual = redis_boards(redis_url);
    let mut diffs = Vec::new();
    for key in expected.keys().chain(actual.keys()).collect::<BTreeSet<_>>() {
        match (expected.get(key), actual.get(key)) {
            (Some(e), Some(a)) if e == a => {}
            (e, a) => diffs.push(format!("{key}: expected {e:?}, Redis has {a:?}")),
        }
    }
    diffs.truncate(20);
    diffs
}
