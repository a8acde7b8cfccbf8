//! Rendering a user's outputs into reused buffers.
//!
//! Every changed user is rendered once per epoch, so this is on the job's
//! hot path (`perf` put the former serde rendering, with its intermediate
//! maps and strings, at a fifth of the job's samples). The JSON written here
//! is byte for byte what `serde_json` writes for the same
//! [`model::ProfileDocument`]: keys of `tagScores` and `eventCounts` sorted,
//! strings escaped by `serde_json` itself; the unit test holds it to that.

use std::io::Write as _;

use model::EventType;

use super::profile::UserProfile;

/// Event types in the order their names sort (the `eventCounts` key order).
const COUNT_ORDER: [EventType; 3] = [EventType::AddToCart, EventType::Purchase, EventType::View];

/// Writes `value` as a JSON string (escaped as serde_json does).
fn write_str(out: &mut Vec<u8>, value: &str) {
    // Writing into a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes `["a","b",…]`.
pub fn write_tags(out: &mut Vec<u8>, tags: &[&str]) {
    out.push(b'[');
    for (i, tag) in tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, tag);
    }
    out.push(b']');
}

/// Writes the `user-profiles` JSON of `user`: userId, tagScores (sorted by
/// tag), topTags, eventCounts (sorted by type name), lastEventAt. `order` is
/// scratch space.
pub fn write_profile(
    out: &mut Vec<u8>,
    user: &str,
    profile: &UserProfile,
    top: &[&str],
    order: &mut Vec<usize>,
) {
    out.extend_from_slice(b"{\"userId\":");
    write_str(out, user);
    out.extend_from_slice(b",\"tagScores\":{");
    order.clear();
    order.extend(0..profile.scores.len());
    order.sort_unstable_by(|&a, &b| profile.scores[a].0.as_str().cmp(profile.scores[b].0.as_str()));
    for (i, &index) in order.iter().enumerate() {
        let (tag, score) = &profile.scores[index];
        if i > 0 {
            out.push(b',');
        }
        write_str(out, tag.as_str());
        let _ = write!(out, ":{score}");
    }
    out.extend_from_slice(b"},\"topTags\":");
    write_tags(out, top);
    out.extend_from_slice(b",\"eventCounts\":{");
    for (i, kind) in COUNT_ORDER.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "\"{}\":{}", kind.as_str(), profile.count(*kind));
    }
    let _ = write!(out, "}},\"lastEventAt\":{}}}", profile.last_event_at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_serde_byte_for_byte() {
        let profile = UserProfile {
            scores: [("zeta", 3), ("\"quoted\"", 12), ("émoji 🎉", -1), ("a\\b\n", 0)]
                .into_iter()
                .map(|(t, s)| (ustr::Ustr::from(t), s))
                .collect(),
            counts: [7, 2, 1],
            last_event_at: 1_795_647_600_123,
            ..UserProfile::default()
        };
        let top = profile.top_tags(3);
        let user = "u\"1\u{1}";
        // The document as serde writes it: the reference for the fast path.
        let reference = model::ProfileDocument {
            user_id: user.to_owned(),
            tag_scores: profile.scores.iter().map(|(t, s)| (t.as_str().to_owned(), *s)).collect(),
            top_tags: top.iter().map(|t| (*t).to_owned()).collect(),
            event_counts: EventType::ALL
                .iter()
                .map(|t| (t.as_str().to_owned(), profile.count(*t)))
                .collect(),
            last_event_at: Some(profile.last_event_at),
        };
        let mut out = Vec::new();
        write_profile(&mut out, user, &profile, &top, &mut Vec::new());
        assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&reference).unwrap());

        let mut tags = Vec::new();
        write_tags(&mut tags, &top);
        assert_eq!(tags, serde_json::to_vec(&top).unwrap());
        let mut empty = Vec::new();
        write_tags(&mut empty, &[]);
        assert_eq!(empty, b"[]");
    }
}
