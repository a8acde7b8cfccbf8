//! The records that flow between the dataflow's operators.
//!
//! The Kafka source turns each valid event into a [`ProfileEvent`] (routed
//! by user); the profile operator, which interns the user, turns each view
//! into a [`Visit`] (routed by day and product). Ids are
//! [`CompactString`]s, stored inline up to 24 bytes, and tags are interned
//! ([`Ustr`]: one pointer), so records cross the exchange without a heap
//! allocation per event.

use arrayvec::ArrayVec;
use compact_str::CompactString;
use model::{Event, EventType, TagList};
use serde::{Deserialize, Serialize};
use ustr::Ustr;

use crate::aggregates::profiles::user_ids::UserId;
use crate::day::Day;

/// An event's distinct tags, interned, inline.
///
/// Tags are interned process-wide for the life of the process: their
/// vocabulary is small (a catalog's tags), so each distinct tag costs its
/// bytes once, and a profile's tag is one pointer.
pub type Tags = ArrayVec<Ustr, { TagList::CAPACITY }>;

/// What the profile operator needs of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEvent {
    /// The event's id: a user's event delivered twice counts once.
    pub event_id: CompactString,
    /// The shopper.
    pub user: CompactString,
    /// What they did.
    pub kind: EventType,
    /// Event time, ms since the epoch.
    pub timestamp: i64,
    /// The product's tags, each listed once.
    pub tags: Tags,
    /// The product (purchases are excluded from the user's
    /// recommendations; views count towards its unique visitors).
    pub product: CompactString,
    /// Calendar day of the event in the job's time zone.
    pub day: Day,
}

impl ProfileEvent {
    /// Extracts the profile-relevant fields; a tag repeated within the event
    /// is kept once, since it counts once.
    pub fn from_event(event: &Event<'_>, day: Day) -> Self {
        let mut tags = Tags::new();
        for (i, tag) in event.tags.iter().enumerate() {
            if !event.tags.is_repeat(i) {
                tags.push(Ustr::from(tag));
            }
        }
        Self {
            event_id: CompactString::from(event.event_id.as_ref()),
            user: CompactString::from(event.user_id.as_ref()),
            kind: event.event_type,
            timestamp: event.timestamp,
            tags,
            product: CompactString::from(event.product_id.as_ref()),
            day,
        }
    }

    /// The product bought, if this is a purchase.
    pub fn purchased(&self) -> Option<&CompactString> {
        (self.kind == EventType::Purchase).then_some(&self.product)
    }
}

/// One view of a product by an interned user, for daily unique visitors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Visit {
    /// Calendar day of the view in the job's time zone.
    pub day: Day,
    /// The product viewed.
    pub product: CompactString,
    /// The viewer's interned id.
    pub user_id: UserId,
    /// The viewer (written to Redis when it is a new visitor).
    pub user: CompactString,
}

/// A raw event that may belong to the `events` list of recent events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentEvent {
    /// Event time, the primary sort key (newest first).
    pub timestamp: i64,
    /// Event id, the tie-breaker, so the order is total and deterministic.
    pub event_id: CompactString,
    /// The event as received. Encoded as one byte string: serde's default
    /// for a `Vec<u8>` is a sequence, which bincode writes byte by byte
    /// (worker 0's snapshot of 10,000 events stopped it for 25 to 39 ms of
    /// CPU); bincode writes both forms identically (a length, then the
    /// bytes), so checkpoints written before read back the same.
    #[serde(with = "serde_bytes")]
    pub json: Vec<u8>,
}

impl RecentEvent {
    /// The sort key of the `events` list: larger is newer; time, then id,
    /// then the message's bytes, so that the order is total and the same
    /// message twice is one entry.
    pub fn key(&self) -> (i64, &str, &[u8]) {
        (self.timestamp, &self.event_id, &self.json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_event_encodes_as_before_its_bytes_were_a_byte_string() {
        /// `RecentEvent` as it was, with serde's default for `Vec<u8>`.
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Before {
            timestamp: i64,
            event_id: CompactString,
            json: Vec<u8>,
        }
        let json: Vec<u8> = (0..=255).chain(0..300).map(|b: u32| b as u8).collect();
        let now = RecentEvent { timestamp: -7, event_id: "e\u{1f}1".into(), json: json.clone() };
        let before = Before { timestamp: -7, event_id: "e\u{1f}1".into(), json };
        let encoded = state::codec::encode(&vec![&now]).unwrap();
        assert_eq!(encoded, state::codec::encode(&vec![&before]).unwrap());
        let back: Vec<RecentEvent> = state::codec::decode(&encoded).unwrap();
        assert_eq!(back, [now]);
    }

    #[test]
    fn repeated_tags_count_once() {
        let json = br#"{"eventId":"e","userId":"u","productId":"p","eventType":"view","timestamp":1764115200000,"tags":["a","b","a"]}"#;
        let event = Event::parse(json).unwrap();
        let record = ProfileEvent::from_event(&event, Day(3));
        assert_eq!(record.tags.as_slice(), ["a", "b"]);
        assert_eq!((record.user.as_str(), record.product.as_str()), ("u", "p"));
        assert_eq!((record.day, record.purchased()), (Day(3), None));
    }
}
