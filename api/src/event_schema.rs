//! The OpenAPI schema of an ingested event. `POST /api/user-behavior`
//! reads its body as raw JSON and validates it field by field
//! ([`crate::validate`]), as [`model::Event::parse`] does; these types
//! describe that contract for the generated document, and the property
//! tests check the handler against them.

use serde::Deserialize;
use utoipa::ToSchema;

/// What happened.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A product page was seen.
    View,
    /// A product went into the cart.
    AddToCart,
    /// A product was bought.
    Purchase,
}

/// One shopper event.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Event)]
pub struct EventDocument {
    /// Unique id of the event.
    #[schema(min_length = 1)]
    pub event_id: String,
    /// The shopper (the Kafka key: one user's events stay in order).
    #[schema(min_length = 1)]
    pub user_id: String,
    /// The product acted on.
    #[schema(min_length = 1)]
    pub product_id: String,
    /// What happened.
    pub event_type: EventKind,
    /// Event time in milliseconds since the Unix epoch, years 2000 to 2099.
    #[schema(minimum = 946_684_800_000_i64, maximum = 4_102_444_799_999_i64)]
    pub timestamp: i64,
    /// The product's interest tags: 1 to 8 non-empty strings.
    #[schema(min_items = 1, max_items = 8)]
    pub tags: Vec<String>,
    /// Unit price.
    #[schema(minimum = 0)]
    pub price: Option<f64>,
    /// Quantity.
    pub quantity: Option<u32>,
    /// Shopping session.
    pub session_id: Option<String>,
}

/// The body of `POST /api/user-behavior`: one event, or an array of 1 to
/// 1,000 events ingested all or nothing.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EventOrBatch {
    /// One event.
    One(EventDocument),
    /// A batch.
    Batch(Vec<EventDocument>),
}
