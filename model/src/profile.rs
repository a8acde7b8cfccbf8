//! The user profile as the job publishes it and the API serves it: the JSON
//! document of the `user-profiles` hash, and the order that decides a
//! user's top tags.
//!
//! The job renders the document with a hand-written writer on its hot path
//! (`dataflow`'s `aggregates::profiles::json`), pinned byte for byte to
//! serde's rendering of [`ProfileDocument`] by a test; the API parses it
//! into the same type.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A user's profile: the value of the user's field in `user-profiles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Profile))]
#[serde(rename_all = "camelCase")]
pub struct ProfileDocument {
    /// The user.
    pub user_id: String,
    /// Tag → weighted score (view 1, add_to_cart 3, purchase 5).
    pub tag_scores: BTreeMap<String, i64>,
    /// The best tags, highest score first (ties by name, see [`tag_order`]).
    pub top_tags: Vec<String>,
    /// Events seen per type (`view`, `add_to_cart`, `purchase`).
    pub event_counts: BTreeMap<String, u64>,
    /// Newest event time in ms; null for a user with no event.
    pub last_event_at: Option<i64>,
}

impl ProfileDocument {
    /// The profile of a user with no event: no tag, every count 0.
    pub fn empty(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            tag_scores: BTreeMap::new(),
            top_tags: Vec::new(),
            event_counts: crate::EventType::ALL
                .iter()
                .map(|kind| (kind.as_str().to_owned(), 0))
                .collect(),
            last_event_at: None,
        }
    }
}

/// How two (tag, score) pairs rank for the top tags: higher score first,
/// then tag name ascending, so the ranking is total and deterministic.
pub fn tag_order(a: (&str, i64), b: (&str, i64)) -> Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0))
}

/// The `n` best of `scores` by [`tag_order`].
pub fn top_tags<S: AsRef<str>>(scores: &[(S, i64)], n: usize) -> Vec<&(S, i64)> {
    let mut ranked: Vec<&(S, i64)> = scores.iter().collect();
    ranked.sort_unstable_by(|a, b| tag_order((a.0.as_ref(), a.1), (b.0.as_ref(), b.1)));
    ranked.truncate(n);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_tags_rank_by_score_then_name() {
        let scores = [("b", 3), ("a", 3), ("c", 9), ("d", 1)];
        let top: Vec<&str> = top_tags(&scores, 3).iter().map(|(t, _)| *t).collect();
        assert_eq!(top, ["c", "a", "b"]);
        assert!(top_tags(&scores, 0).is_empty());
        assert_eq!(tag_order(("a", 1), ("a", 1)), Ordering::Equal);
    }

    #[test]
    fn the_document_is_camel_case_json() {
        let mut profile = ProfileDocument::empty("u1");
        profile.tag_scores.insert("shoes".into(), 6);
        profile.top_tags.push("shoes".into());
        profile.last_event_at = Some(5);
        let json = serde_json::to_string(&profile).unwrap();
        assert_eq!(
            json,
            r#"{"userId":"u1","tagScores":{"shoes":6},"topTags":["shoes"],"eventCounts":{"add_to_cart":0,"purchase":0,"view":0},"lastEventAt":5}"#
        );
        assert_eq!(serde_json::from_str::<ProfileDocument>(&json).unwrap(), profile);
    }
}
