//! Tests of `seen_ids.rs`: the representation against a plain statement
//! of the rule, the type-local horizon, and the state codec.

use super::*;

const WINDOW: i64 = 100;

/// The rule, written plainly: a duplicate is a (type, id) remembered at a
/// timestamp at or after its type's newest timestamp minus the window.
#[derive(Default)]
struct Plain {
    newest: [Option<i64>; TYPES],
    ids: Vec<(usize, String, i64)>,
}

impl Plain {
    fn first_sighting(&mut self, kind: usize, id: &str, timestamp: i64, window: i64) -> bool {
        let newest = self.newest[kind].map_or(timestamp, |n| n.max(timestamp));
        self.newest[kind] = Some(newest);
        let horizon = newest - window;
        if self.ids.iter().any(|(k, seen, at)| *k == kind && seen == id && *at >= horizon) {
            return false;
        }
        self.ids.retain(|(k, seen, _)| !(*k == kind && seen == id));
        if timestamp >= horizon {
            self.ids.push((kind, id.to_owned(), timestamp));
        }
        true
    }
}

#[test]
fn a_repeat_inside_the_window_is_a_duplicate() {
    let mut seen = SeenIds::default();
    assert!(seen.first_sighting(0, "e1", 1_000, WINDOW));
    assert!(!seen.first_sighting(0, "e1", 1_000, WINDOW));
    // The same id as another type is another event.
    assert!(seen.first_sighting(1, "e1", 1_000, WINDOW));
    // Once the type's newest event is a window later, it is forgotten.
    assert!(seen.first_sighting(0, "e2", 1_101, WINDOW));
    assert!(seen.first_sighting(0, "e1", 1_000, WINDOW));
    // An event older than its type's horizon counts and is not remembered.
    assert!(seen.first_sighting(0, "old", 10, WINDOW));
    assert!(seen.first_sighting(0, "old", 10, WINDOW));
}

#[test]
fn another_type_far_ahead_does_not_forget_a_type_s_ids() {
    // Views read an hour ahead of carts (a topic behind after an outage):
    // a cart's resend is still recognised.
    let mut seen = SeenIds::default();
    assert!(seen.first_sighting(1, "cart-1", 1_000, WINDOW));
    assert!(seen.first_sighting(0, "view-9", 1_000 + 3_600_000, WINDOW));
    assert!(!seen.first_sighting(1, "cart-1", 1_000, WINDOW));
}

#[test]
fn agrees_with_the_plain_rule_across_both_representations() {
    let mut state = 11_u64;
    let mut next = move |bound: u64| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    for round in 0..20 {
        let (mut seen, mut plain) = (SeenIds::default(), Plain::default());
        let mut newest = 1_000_000_i64;
        let window = i64::try_from(5 + next(200)).unwrap();
        let spread = 3 + next(400);
        for _ in 0..3_000 {
            let timestamp = newest - 40 + i64::try_from(next(60)).unwrap();
            newest = newest.max(timestamp);
            let kind = usize::try_from(next(3)).unwrap();
            let id = format!("e{}", next(spread));
            let expected = plain.first_sighting(kind, &id, timestamp, window);
            let got = seen.first_sighting(kind, &id, timestamp, window);
            assert_eq!(got, expected, "round {round}");
        }
        assert!(seen.heap_bytes() > 0);
    }
}

#[test]
fn grows_into_a_map_and_shrinks_back() {
    let mut seen = SeenIds::default();
    for i in 0..1_000 {
        assert!(seen.first_sighting(2, &format!("e{i}"), 1_000 + i, 10_000));
    }
    assert!(matches!(seen.ids, Ids::Many { .. }) && seen.len() == 1_000);
    assert!(!seen.first_sighting(2, "e999", 1_999, 10_000));
    // A window of 5: the next prune keeps only the newest few.
    for i in 1_000..1_200 {
        assert!(seen.first_sighting(2, &format!("e{i}"), 1_000 + i, 5));
    }
    assert!(matches!(seen.ids, Ids::Few(_)), "{} ids", seen.len());
    assert!(!seen.first_sighting(2, "e1199", 2_199, 5));
}

#[test]
fn survives_a_round_trip_through_the_state_codec() {
    for count in [0, 3, 500] {
        let mut seen = SeenIds::default();
        for i in 0..count {
            let kind = usize::try_from(i % 3).unwrap();
            seen.first_sighting(
                kind,
                &format!("event-id-long-enough-to-spill-{i}"),
                1_000 + i,
                10_000,
            );
        }
        let bytes = state::codec::encode(&seen).unwrap();
        let back: SeenIds = state::codec::decode(&bytes).unwrap();
        assert_eq!(back, seen);
        assert_eq!(back.len(), usize::try_from(count).unwrap());
    }
}
