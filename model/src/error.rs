//! Why an event was rejected.
//!
//! A rejected event is data, not a failure: the dataflow job forwards it to
//! the dead-letter topic with [`EventError::reason`] as a header, and the API
//! returns it to the client. The reason codes are stable strings because
//! they become metric labels and header values.

/// A problem with one event's bytes or contents.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// The message is larger than [`crate::MAX_MESSAGE_BYTES`].
    #[error("message is {size} bytes, over the {limit}-byte limit")]
    Oversize {
        /// Size of the rejected message in bytes.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The bytes are not a JSON object (syntax error, truncation, not UTF-8).
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// Valid JSON, but a field is missing or has the wrong type.
    #[error("schema violation: {0}")]
    Schema(String),
    /// `eventType` is not one of `view`, `add_to_cart`, `purchase`.
    #[error("unknown eventType {0:?}: expected \"view\", \"add_to_cart\" or \"purchase\"")]
    UnknownEventType(String),
    /// `tags` is empty, too long, or holds an empty string.
    #[error("invalid tags: {0}")]
    InvalidTags(&'static str),
    /// A required identifier is the empty string.
    #[error("field `{0}` must not be empty")]
    EmptyField(&'static str),
    /// An identifier or a tag holds a control character (Unicode category
    /// Cc: U+0000 to U+001F, U+007F to U+009F).
    #[error("field `{0}` holds a control character (U+0000 to U+001F or U+007F to U+009F)")]
    ControlCharacter(&'static str),
    /// `timestamp` lies outside the accepted event-time range.
    #[error("timestamp {0} ms is outside the accepted range [{min}, {max})", min = crate::event::MIN_TIMESTAMP_MS, max = crate::event::MAX_TIMESTAMP_MS)]
    TimestampOutOfRange(i64),
}

impl EventError {
    /// A short, stable code for metrics labels and dead-letter headers.
    pub fn reason(&self) -> &'static str {
        match self {
            EventError::Oversize { .. } => "oversize",
            EventError::MalformedJson(_) => "malformed_json",
            EventError::Schema(_) => "schema",
            EventError::UnknownEventType(_) => "unknown_event_type",
            EventError::InvalidTags(_) => "invalid_tags",
            EventError::EmptyField(_) => "empty_field",
            EventError::ControlCharacter(_) => "control_character",
            EventError::TimestampOutOfRange(_) => "timestamp_out_of_range",
        }
    }

    /// Every reason code, for pre-registering metric label values.
    pub const ALL_REASONS: [&'static str; 8] = [
        "oversize",
        "malformed_json",
        "schema",
        "unknown_event_type",
        "invalid_tags",
        "empty_field",
        "control_character",
        "timestamp_out_of_range",
    ];
}

impl From<serde_json::Error> for EventError {
    fn from(err: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match err.classify() {
            Category::Data => EventError::Schema(err.to_string()),
            Category::Syntax | Category::Eof | Category::Io => {
                EventError::MalformedJson(err.to_string())
            }
        }
    }
}
