//! The event schema: one JSON object per Kafka message.
//!
//! ```json
//! {"eventId":"e1","userId":"u1","productId":"p1","eventType":"view",
//!  "timestamp":1764115200000,"tags":["shoes","nike"],"price":89.9}
//! ```
//!
//! [`Event::parse`] is the single place where bytes become an event: it
//! enforces the size limit and every rule of `docs/events.md`, and borrows
//! strings from the input so that the dataflow hot path does not allocate.
//! Unknown fields are ignored, so producers may add fields freely.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{EventError, TagList};

/// Largest accepted message, in bytes, enforced by producers and consumers.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// Earliest accepted event time: 2000-01-01T00:00:00Z.
pub const MIN_TIMESTAMP_MS: i64 = 946_684_800_000;
/// Event times must be before 2100-01-01T00:00:00Z.
pub const MAX_TIMESTAMP_MS: i64 = 4_102_444_800_000;

/// What the shopper did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// Looked at a product page.
    View,
    /// Put the product in the cart.
    AddToCart,
    /// Bought the product.
    Purchase,
}

impl EventType {
    /// Every event type, in a fixed order used for per-type arrays.
    pub const ALL: [EventType; 3] = [EventType::View, EventType::AddToCart, EventType::Purchase];

    /// The wire name (`view`, `add_to_cart`, `purchase`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::View => "view",
            EventType::AddToCart => "add_to_cart",
            EventType::Purchase => "purchase",
        }
    }

    /// Position in [`EventType::ALL`], for per-type counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a wire name.
    pub fn from_wire(name: &str) -> Option<Self> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One shopper event. Strings borrow from the parsed bytes when possible;
/// use [`Event::into_owned`] to keep an event beyond its buffer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    /// Unique id of this event.
    pub event_id: Cow<'a, str>,
    /// The shopper.
    pub user_id: Cow<'a, str>,
    /// The product acted on.
    pub product_id: Cow<'a, str>,
    /// What happened.
    pub event_type: EventType,
    /// Event time in milliseconds since the Unix epoch (UTC).
    pub timestamp: i64,
    /// The product's interest tags (1 to 8).
    pub tags: TagList<'a>,
    /// Unit price, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Quantity, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// Shopping session, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Cow<'a, str>>,
}

/// The wire shape before validation: `eventType` is kept as a string so an
/// unknown type gets its own rejection reason.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    product_id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    timestamp: i64,
    #[serde(borrow)]
    tags: TagList<'a>,
    #[serde(default)]
    price: Option<f64>,
    #[serde(default)]
    quantity: Option<u32>,
    #[serde(default, borrow)]
    session_id: Option<Cow<'a, str>>,
}

/// Whether `text` holds a control character (Unicode category Cc). Ids and
/// tags never do: keys, Redis members and log lines stay unambiguous, and
/// the job's internal separators (`\x1f`) cannot occur in them.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

impl<'a> Event<'a> {
    /// Parses and validates one message.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EventError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(EventError::Oversize { size: bytes.len(), limit: MAX_MESSAGE_BYTES });
        }
        let wire: WireEvent<'a> = serde_json::from_slice(bytes)?;
        let event_type = EventType::from_wire(&wire.event_type)
            .ok_or_else(|| EventError::UnknownEventType(wire.event_type.to_string()))?;
        let event = Event {
            event_id: wire.event_id,
            user_id: wire.user_id,
            product_id: wire.product_id,
            event_type,
            timestamp: wire.timestamp,
            tags: wire.tags,
            price: wire.price,
            quantity: wire.quantity,
            session_id: wire.session_id,
        };
        event.validate()?;
        Ok(event)
    }

    /// Checks the rules that the JSON types alone do not express.
    ///
    /// Deliberately independent of the wall clock: replaying the same bytes
    /// after a crash must accept and reject exactly the same events.
    pub fn validate(&self) -> Result<(), EventError> {
        for (name, value) in [
            ("eventId", &self.event_id),
            ("userId", &self.user_id),
            ("productId", &self.product_id),
        ] {
            if value.is_empty() {
                return Err(EventError::EmptyField(name));
            }
            if has_control(value) {
                return Err(EventError::ControlCharacter(name));
            }
        }
        if self.tags.is_empty() {
            return Err(EventError::InvalidTags("at least one tag is required"));
        }
        if self.tags.iter().any(str::is_empty) {
            return Err(EventError::InvalidTags("tags must not be empty strings"));
        }
        if self.tags.iter().any(has_control) {
            return Err(EventError::ControlCharacter("tags"));
        }
        if !(MIN_TIMESTAMP_MS..MAX_TIMESTAMP_MS).contains(&self.timestamp) {
            return Err(EventError::TimestampOutOfRange(self.timestamp));
        }
        if let Some(price) = self.price
            && !(price.is_finite() && price >= 0.0)
        {
            return Err(EventError::Schema(format!("price {price} must be a non-negative number")));
        }
        Ok(())
    }

    /// Serializes into `buf` (cleared first), reusing its allocation.
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        buf.clear();
        // Writing into a Vec cannot fail and every field is serializable.
        serde_json::to_writer(&mut *buf, self).expect("an Event always serializes");
    }

    /// A copy that owns all its strings.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            event_id: Cow::Owned(self.event_id.into_owned()),
            user_id: Cow::Owned(self.user_id.into_owned()),
            product_id: Cow::Owned(self.product_id.into_owned()),
            event_type: self.event_type,
            timestamp: self.timestamp,
            tags: self.tags.into_owned(),
            price: self.price,
            quantity: self.quantity,
            session_id: self.session_id.map(|s| Cow::Owned(s.into_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"eventId":"e1","userId":"u1","productId":"p1","eventType":"add_to_cart","timestamp":1764115200000,"tags":["shoes","nike"],"price":89.5,"quantity":2,"sessionId":"s1","extra":{"ignored":true}}"#;

    fn reason(json: &str) -> &'static str {
        Event::parse(json.as_bytes()).unwrap_err().reason()
    }

    #[test]
    fn parses_a_complete_event_and_ignores_unknown_fields() {
        let event = Event::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(event.event_type, EventType::AddToCart);
        assert_eq!(event.user_id, "u1");
        assert_eq!(event.tags.iter().collect::<Vec<_>>(), ["shoes", "nike"]);
        assert_eq!(event.quantity, Some(2));
        assert!(matches!(event.user_id, Cow::Borrowed(_)));
    }

    #[test]
    fn serialization_round_trips() {
        let event = Event::parse(GOOD.as_bytes()).unwrap();
        let mut buf = Vec::new();
        event.write_json(&mut buf);
        assert_eq!(Event::parse(&buf).unwrap(), event);
    }

    #[test]
    fn classifies_every_kind_of_bad_input() {
        assert_eq!(reason("{not json"), "malformed_json");
        assert_eq!(reason(r#"{"eventId":"e1"}"#), "schema");
        assert_eq!(reason(&GOOD.replace("1764115200000", "\"soon\"")), "schema");
        assert_eq!(reason(&GOOD.replace("add_to_cart", "wishlist")), "unknown_event_type");
        assert_eq!(reason(&GOOD.replace(r#"["shoes","nike"]"#, "[]")), "invalid_tags");
        assert_eq!(reason(&GOOD.replace(r#""u1""#, r#""""#)), "empty_field");
        assert_eq!(reason(&GOOD.replace("1764115200000", "99")), "timestamp_out_of_range");
        assert_eq!(reason(&GOOD.replace("89.5", "-1")), "schema");
        let huge = GOOD.replace("\"s1\"", &format!("\"{}\"", "x".repeat(MAX_MESSAGE_BYTES)));
        assert_eq!(reason(&huge), "oversize");
        for hostile in ["u\\u001f1", "u\\u00001", "u\\n1", "u\\u007f1", "u\\u00851"] {
            let bad_user = GOOD.replace(r#""u1""#, &format!("\"{hostile}\""));
            assert_eq!(reason(&bad_user), "control_character", "{bad_user}");
        }
        let bad_tag = GOOD.replace(r#""shoes""#, r#""sh\toes""#);
        assert_eq!(reason(&bad_tag), "control_character", "{bad_tag}");
        // Everything else of UTF-8 is an id, 4-byte characters included.
        let wide = GOOD.replace(r#""u1""#, "\"u😀\\u2028:𝔘\"");
        assert_eq!(Event::parse(wide.as_bytes()).unwrap().user_id, "u😀\u{2028}:𝔘");
    }

    #[test]
    fn every_reason_is_listed() {
        let errors = [
            EventError::Oversize { size: 1, limit: 0 },
            EventError::MalformedJson(String::new()),
            EventError::Schema(String::new()),
            EventError::UnknownEventType(String::new()),
            EventError::InvalidTags(""),
            EventError::EmptyField(""),
            EventError::ControlCharacter(""),
            EventError::TimestampOutOfRange(0),
        ];
        for err in errors {
            assert!(EventError::ALL_REASONS.contains(&err.reason()));
        }
    }

    #[test]
    fn wire_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_wire(t.as_str()), Some(t));
            assert_eq!(EventType::ALL[t.index()], t);
        }
    }
}
