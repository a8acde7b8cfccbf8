//! An independent recomputation of every Redis output from the raw events.
//!
//! Written from the specification (README of the dataflow issue), sharing
//! no code with the job: events are read as plain JSON values and days are
//! computed with the civil-from-days algorithm, not with the job's calendar.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use testkit::utc_date;

use super::boards::{Boards, expected_boards};

/// The job's default `--dedupe-window` (10 minutes), in ms.
pub const DEDUPE_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Members per leaderboard when the job runs with its default
/// `--leaderboard-size`.
pub const DEFAULT_BOARD_SIZE: usize = 100;

/// Expected Redis contents.
#[derive(Debug, Default)]
pub struct Expected {
    /// userId → tag → score.
    pub scores: BTreeMap<String, BTreeMap<String, i64>>,
    /// userId → [view, add_to_cart, purchase] counts.
    pub counts: BTreeMap<String, [u64; 3]>,
    /// userId → largest timestamp.
    pub last_event_at: BTreeMap<String, i64>,
    /// "YYYY-MM-DD:productId" → userIds.
    pub visitors: BTreeMap<String, BTreeSet<String>>,
    /// Raw JSON of the newest events, newest first.
    pub events: Vec<Vec<u8>>,
    /// userId → products purchased (users with at least one purchase).
    pub purchased: BTreeMap<String, BTreeSet<String>>,
    /// The leaderboards (`top:*`) of a job with the default
    /// `--leaderboard-size` and no catalog (the tests load none).
    pub boards: Boards,
}

impl Expected {
    /// The top `n` tags of `user`: score descending, then name ascending.
    pub fn top_tags(&self, user: &str, n: usize) -> Vec<String> {
        let mut tags: Vec<(&String, &i64)> = self.scores[user].iter().collect();
        tags.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        tags.into_iter().take(n).map(|(t, _)| t.clone()).collect()
    }
}

/// Recomputes everything from valid events' raw JSON; invalid ones are skipped
/// (`is_valid` decides, from the same JSON). The `events` list holds each
/// distinct message once. An event is a duplicate, and counts for nothing,
/// if an event with the same user, type and eventId was counted with a
/// timestamp no more than [`DEDUPE_WINDOW_MS`] before the newest timestamp
/// of that user's events of that type so far (docs/configuration.md,
/// `--dedupe-window`): `raw_events` must keep each partition's order, as
/// read back from Kafka, since one user's events of one type are in one
/// partition.
pub fn recompute(raw_events: &[Vec<u8>], events_capacity: usize) -> Expected {
    let mut expected = Expected::default();
    let mut recent: BTreeSet<(i64, String, Vec<u8>)> = BTreeSet::new();
    // (user, type) → newest timestamp; (user, type, id) → counted timestamp.
    let mut newest: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut counted_at: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut counted: Vec<Vec<u8>> = Vec::new();
    for raw in raw_events {
        let Some(event) = valid_event(raw) else { continue };
        let ts = event["timestamp"].as_i64().unwrap();
        let id = event["eventId"].as_str().unwrap().to_owned();
        recent.insert((ts, id.clone(), raw.clone()));
        let user = event["userId"].as_str().unwrap().to_owned();
        let kind = event["eventType"].as_str().unwrap().to_owned();
        let type_newest = newest.entry((user.clone(), kind.clone())).or_insert(ts);
        *type_newest = (*type_newest).max(ts);
        let horizon = *type_newest - DEDUPE_WINDOW_MS;
        let key = (user.clone(), kind.clone(), id);
        if counted_at.get(&key).is_some_and(|&at| at >= horizon) {
            continue;
        }
        counted_at.insert(key, ts);
        counted.push(raw.clone());
        let (index, weight) = match kind.as_str() {
            "view" => (0, 1),
            "add_to_cart" => (1, 3),
            _ => (2, 5),
        };
        let tags: BTreeSet<String> = event["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        let scores = expected.scores.entry(user.clone()).or_default();
        for tag in tags {
            *scores.entry(tag).or_default() += weight;
        }
        expected.counts.entry(user.clone()).or_default()[index] += 1;
        let last = expected.last_event_at.entry(user.clone()).or_insert(ts);
        *last = (*last).max(ts);
        let product = event["productId"].as_str().unwrap().to_owned();
        if kind == "purchase" {
            expected.purchased.entry(user.clone()).or_default().insert(product.clone());
        }
        if kind == "view" {
            let field = format!("{}:{}", utc_date(ts), product);
            expected.visitors.entry(field).or_default().insert(user);
        }
    }
    // Newest first: by time, then id, then the message's bytes.
    expected.events =
        recent.into_iter().rev().take(events_capacity).map(|(_, _, raw)| raw).collect();
    expected.boards = expected_boards(&counted, &BTreeMap::new(), DEFAULT_BOARD_SIZE);
    expected
}

/// The event as JSON if it satisfies the schema (docs/events.md), else None.
pub fn valid_event(raw: &[u8]) -> Option<Value> {
    if raw.len() > 16 * 1024 {
        return None;
    }
    let value: Value = serde_json::from_slice(raw).ok()?;
    let object = value.as_object()?;
    // No control characters (Unicode Cc) in ids or tags, written out here
    // rather than taken from the model.
    let control = |text: &str| text.chars().any(|c| matches!(c as u32, 0..=0x1f | 0x7f..=0x9f));
    for field in ["eventId", "userId", "productId"] {
        let id = object.get(field)?.as_str()?;
        if id.is_empty() || control(id) {
            return None;
        }
    }
    if !["view", "add_to_cart", "purchase"].contains(&object.get("eventType")?.as_str()?) {
        return None;
    }
    let ts = object.get("timestamp")?.as_i64()?;
    if !(946_684_800_000..4_102_444_800_000).contains(&ts) {
        return None;
    }
    let tags = object.get("tags")?.as_array()?;
    if tags.is_empty()
        || tags.len() > 8
        || tags.iter().any(|t| t.as_str().is_none_or(|t| t.is_empty() || control(t)))
    {
        return None;
    }
    if let Some(price) = object.get("price").filter(|p| !p.is_null())
        && price.as_f64()? < 0.0
    {
        return None;
    }
    if let Some(quantity) = object.get("quantity").filter(|q| !q.is_null()) {
        u32::try_from(quantity.as_u64()?).ok()?;
    }
    if let Some(session) = object.get("sessionId").filter(|s| !s.is_null()) {
        session.as_str()?;
    }
    Some(value)
}
