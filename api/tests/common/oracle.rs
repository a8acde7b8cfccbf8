//! An independent recomputation of what the API should answer, from the
//! raw events and the catalog alone (plain JSON values; no code shared with
//! the dataflow job or the API).

use std::collections::{BTreeMap, BTreeSet};

use model::Product;
use serde_json::Value;
use testkit::utc_date;

/// Expected state after the job has processed every event.
#[derive(Debug, Default)]
pub struct Expected {
    /// userId → tag → score.
    pub scores: BTreeMap<String, BTreeMap<String, i64>>,
    /// userId → [view, add_to_cart, purchase].
    pub counts: BTreeMap<String, [u64; 3]>,
    /// userId → newest timestamp.
    pub last: BTreeMap<String, i64>,
    /// day → productId → visitors.
    pub visitors: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// (timestamp, eventId) of every event.
    pub times: Vec<(i64, String)>,
    /// userId → products purchased.
    pub purchased: BTreeMap<String, BTreeSet<String>>,
}

impl Expected {
    /// Recomputes from valid events (all the test's events are valid); an
    /// event whose user, type and eventId came before counts once.
    pub fn from_raw(raw: &[Vec<u8>]) -> Self {
        let mut e = Expected::default();
        let mut seen = BTreeSet::new();
        for bytes in raw {
            let v: Value = serde_json::from_slice(bytes).expect("event json");
            let user = v["userId"].as_str().unwrap().to_owned();
            let (kind, id) = (v["eventType"].as_str().unwrap(), v["eventId"].as_str().unwrap());
            if !seen.insert((user.clone(), kind.to_owned(), id.to_owned())) {
                continue;
            }
            let ts = v["timestamp"].as_i64().unwrap();
            let (i, w) = match v["eventType"].as_str().unwrap() {
                "view" => (0, 1),
                "add_to_cart" => (1, 3),
                _ => (2, 5),
            };
            let tags: BTreeSet<&str> =
                v["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            let scores = e.scores.entry(user.clone()).or_default();
            for t in tags {
                *scores.entry(t.to_owned()).or_default() += w;
            }
            e.counts.entry(user.clone()).or_default()[i] += 1;
            if i == 2 {
                let product = v["productId"].as_str().unwrap().to_owned();
                e.purchased.entry(user.clone()).or_default().insert(product);
            }
            let last = e.last.entry(user.clone()).or_insert(ts);
            *last = (*last).max(ts);
            if i == 0 {
                e.visitors
                    .entry(utc_date(ts))
                    .or_default()
                    .entry(v["productId"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(user);
            }
            e.times.push((ts, v["eventId"].as_str().unwrap().to_owned()));
        }
        e
    }

    /// Top `n` tags: score descending, name ascending.
    pub fn top_tags(&self, user: &str, n: usize) -> Vec<(String, i64)> {
        let mut tags: Vec<(String, i64)> = self
            .scores
            .get(user)
            .map(|s| s.iter().map(|(t, v)| (t.clone(), *v)).collect())
            .unwrap_or_default();
        tags.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        tags.truncate(n);
        tags
    }

    /// UV of `product` on `day`.
    pub fn uv(&self, day: &str, product: &str) -> u64 {
        self.visitors.get(day).and_then(|d| d.get(product)).map_or(0, |s| s.len() as u64)
    }

    /// (productId, uv) of `day`, highest first, ties by id.
    pub fn uv_ranking(&self, day: &str) -> Vec<(String, u64)> {
        let mut list: Vec<(String, u64)> = self
            .visitors
            .get(day)
            .map(|d| d.iter().map(|(p, s)| (p.clone(), s.len() as u64)).collect())
            .unwrap_or_default();
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        list
    }

    /// Expected recommendation ids with their matched tags, per the
    /// documented rule: top-5 interest tags; score = sum of matched tag
    /// scores × (1 + ln(1 + UV today)); ties by UV then id; then the most
    /// popular products fill up to `limit`.
    pub fn recommendations(
        &self,
        catalog: &[Product],
        user: &str,
        day: &str,
        limit: usize,
    ) -> Vec<(String, Vec<String>)> {
        let interest = self.top_tags(user, 5);
        let bought = self.purchased.get(user);
        let purchased = |id: &str| bought.is_some_and(|b| b.contains(id));
        let mut scored: Vec<(f64, u64, String, Vec<String>)> = Vec::new();
        for product in catalog.iter().filter(|p| !purchased(&p.product_id)) {
            let matched: Vec<(String, i64)> =
                interest.iter().filter(|(t, _)| product.tags.contains(t)).cloned().collect();
            if matched.is_empty() {
                continue;
            }
            let sum: i64 = matched.iter().map(|(_, s)| s).sum();
            let uv = self.uv(day, &product.product_id);
            let score = sum as f64 * (1.0 + (uv as f64).ln_1p());
            scored.push((
                score,
                uv,
                product.product_id.clone(),
                matched.into_iter().map(|(t, _)| t).collect(),
            ));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut out: Vec<(String, Vec<String>)> =
            scored.into_iter().take(limit).map(|(_, _, p, m)| (p, m)).collect();
        let mut popular: Vec<(u64, &str)> =
            catalog.iter().map(|p| (self.uv(day, &p.product_id), p.product_id.as_str())).collect();
        popular.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        for (_, id) in popular {
            if out.len() >= limit {
                break;
            }
            if !purchased(id) && !out.iter().any(|(p, _)| p == id) {
                out.push((id.to_owned(), Vec::new()));
            }
        }
        out
    }
}
