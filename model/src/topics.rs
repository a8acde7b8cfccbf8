//! Kafka topic names.
//!
//! The original system's topics, one per event type, plus the output and
//! dead-letter topics. A [`Topics`] value can carry a prefix so that tests
//! sharing one cluster never read each other's events.

use crate::EventType;

/// Topic of `view` events.
pub const VIEW_EVENTS: &str = "view-events";
/// Topic of `add_to_cart` events.
pub const ADD_TO_CART_EVENTS: &str = "add-to-cart-events";
/// Topic of `purchase` events.
pub const PURCHASE_EVENTS: &str = "purchase-events";
/// Topic the dataflow job publishes changed interest tags to.
pub const USER_INTEREST_TAGS: &str = "user-interest-tags-topic";
/// Topic rejected events are forwarded to, with the reason in a header.
pub const DEAD_LETTER_EVENTS: &str = "dead-letter-events";

/// The set of topic names one deployment (or one test) uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// `view` events.
    pub view: String,
    /// `add_to_cart` events.
    pub add_to_cart: String,
    /// `purchase` events.
    pub purchase: String,
    /// Changed interest tags (output).
    pub interest_tags: String,
    /// Rejected events (output).
    pub dead_letter: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

impl Topics {
    /// The standard names, each preceded by `prefix` (empty for production).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            view: format!("{prefix}{VIEW_EVENTS}"),
            add_to_cart: format!("{prefix}{ADD_TO_CART_EVENTS}"),
            purchase: format!("{prefix}{PURCHASE_EVENTS}"),
            interest_tags: format!("{prefix}{USER_INTEREST_TAGS}"),
            dead_letter: format!("{prefix}{DEAD_LETTER_EVENTS}"),
        }
    }

    /// The topic that carries events of `event_type`.
    pub fn for_type(&self, event_type: EventType) -> &str {
        match event_type {
            EventType::View => &self.view,
            EventType::AddToCart => &self.add_to_cart,
            EventType::Purchase => &self.purchase,
        }
    }

    /// The three input topics, in [`EventType::ALL`] order.
    pub fn event_topics(&self) -> [&str; 3] {
        EventType::ALL.map(|t| self.for_type(t))
    }

    /// Every topic, inputs first.
    pub fn all(&self) -> [&str; 5] {
        [&self.view, &self.add_to_cart, &self.purchase, &self.interest_tags, &self.dead_letter]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names_match_the_original_system() {
        let topics = Topics::default();
        assert_eq!(topics.for_type(EventType::View), "view-events");
        assert_eq!(topics.for_type(EventType::AddToCart), "add-to-cart-events");
        assert_eq!(topics.for_type(EventType::Purchase), "purchase-events");
        assert_eq!(topics.interest_tags, "user-interest-tags-topic");
        assert_eq!(topics.dead_letter, "dead-letter-events");
    }

    #[test]
    fn prefix_applies_to_every_topic() {
        let topics = Topics::with_prefix("t42.");
        assert!(topics.all().iter().all(|t| t.starts_with("t42.")));
        assert_eq!(topics.event_topics()[2], "t42.purchase-events");
    }
}
