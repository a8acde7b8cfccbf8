//! Field-by-field validation of ingested events, so a 400 names every bad
//! field, not only the first. [`model::Event::parse`] stays the authority:
//! an event is produced only when it accepts it, exactly as the dataflow
//! job would.

use model::event::{MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS};
use model::{Event, EventError, TagList};
use serde_json::Value;

use crate::error::FieldError;

fn problem(index: Option<usize>, field: &str, reason: &str, message: String) -> FieldError {
    FieldError { index, field: field.into(), reason: reason.into(), message }
}

/// Every problem with one event given as JSON (empty when it is valid).
pub fn check_value(index: Option<usize>, value: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    let Some(object) = value.as_object() else {
        out.push(problem(index, "body", "schema", "an event must be a JSON object".into()));
        return out;
    };
    for field in ["eventId", "userId", "productId"] {
        match object.get(field) {
            None | Some(Value::Null) => {
                out.push(problem(index, field, "schema", format!("`{field}` is required")));
            }
            Some(Value::String(s)) if s.is_empty() => {
                out.push(problem(
                    index,
                    field,
                    "empty_field",
                    format!("`{field}` must not be empty"),
                ));
            }
            Some(Value::String(s)) if model::has_control(s) => {
                out.push(problem(
                    index,
                    field,
                    "control_character",
                    format!("`{field}` must not hold control characters (U+0000 to U+001F, U+007F to U+009F)"),
                ));
            }
            Some(Value::String(_)) => {}
            Some(_) => {
                out.push(problem(index, field, "schema", format!("`{field}` must be a string")))
            }
        }
    }
    match object.get("eventType") {
        None | Some(Value::Null) => {
            out.push(problem(index, "eventType", "schema", "`eventType` is required".into()));
        }
        Some(Value::String(s)) if model::EventType::from_wire(s).is_some() => {}
        Some(other) => out.push(problem(
            index,
            "eventType",
            "unknown_event_type",
            format!("`eventType` is {other}: expected \"view\", \"add_to_cart\" or \"purchase\""),
        )),
    }
    match object.get("timestamp") {
        None | Some(Value::Null) => {
            out.push(problem(index, "timestamp", "schema", "`timestamp` is required".into()));
        }
        Some(v) => match v.as_i64() {
            Some(ts) if (MIN_TIMESTAMP_MS..MAX_TIMESTAMP_MS).contains(&ts) => {}
            Some(ts) => out.push(problem(
                index,
                "timestamp",
                "timestamp_out_of_range",
                format!(
                    "`timestamp` {ts} ms is outside [{MIN_TIMESTAMP_MS}, {MAX_TIMESTAMP_MS}) (2000 to 2100, in milliseconds)"
                ),
            )),
            None => out.push(problem(
                index,
                "timestamp",
                "schema",
                "`timestamp` must be an integer (milliseconds since the Unix epoch)".into(),
            )),
        },
    }
    match object.get("tags") {
        None | Some(Value::Null) => {
            out.push(problem(index, "tags", "schema", "`tags` is required".into()))
        }
        Some(Value::Array(tags)) => {
            if tags.is_empty() || tags.len() > TagList::CAPACITY {
                out.push(problem(
                    index,
                    "tags",
                    "invalid_tags",
                    format!("`tags` must hold 1 to {} tags, not {}", TagList::CAPACITY, tags.len()),
                ));
            } else if tags.iter().any(|t| !t.is_string()) {
                out.push(problem(index, "tags", "schema", "every tag must be a string".into()));
            } else if tags.iter().any(|t| t.as_str() == Some("")) {
                out.push(problem(
                    index,
                    "tags",
                    "invalid_tags",
                    "tags must not be empty strings".into(),
                ));
            } else if tags.iter().any(|t| t.as_str().is_some_and(model::has_control)) {
                out.push(problem(
                    index,
                    "tags",
                    "control_character",
                    "tags must not hold control characters (U+0000 to U+001F, U+007F to U+009F)"
                        .into(),
                ));
            }
        }
        Some(_) => {
            out.push(problem(index, "tags", "schema", "`tags` must be an array of strings".into()))
        }
    }
    match object.get("price") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_f64().is_some_and(|p| p.is_finite() && p >= 0.0) => {}
        Some(_) => out.push(problem(
            index,
            "price",
            "schema",
            "`price` must be a non-negative number".into(),
        )),
    }
    match object.get("quantity") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some_and(|q| u32::try_from(q).is_ok()) => {}
        Some(_) => out.push(problem(
            index,
            "quantity",
            "schema",
            "`quantity` must be a non-negative 32-bit integer".into(),
        )),
    }
    match object.get("sessionId") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(_) => {
            out.push(problem(index, "sessionId", "schema", "`sessionId` must be a string".into()))
        }
    }
    out
}

/// The field an [`EventError`] is about, for errors the field checks missed.
pub fn field_of(error: &EventError) -> &'static str {
    match error {
        EventError::Oversize { .. } | EventError::MalformedJson(_) | EventError::Schema(_) => {
            "body"
        }
        EventError::UnknownEventType(_) => "eventType",
        EventError::InvalidTags(_) => "tags",
        EventError::EmptyField(field) | EventError::ControlCharacter(field) => field,
        EventError::TimestampOutOfRange(_) => "timestamp",
    }
}

/// Validates one event: the field checks, then [`Event::parse`] on its
/// serialized bytes. Returns the canonical event or every problem found.
pub fn validate(
    index: Option<usize>,
    value: &Value,
    bytes: &[u8],
) -> Result<Event<'static>, Vec<FieldError>> {
    let problems = check_value(index, value);
    if !problems.is_empty() {
        return Err(problems);
    }
    Event::parse(bytes)
        .map(Event::into_owned)
        .map_err(|err| vec![problem(index, field_of(&err), err.reason(), err.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_every_bad_field() {
        let value = json!({"eventId": "", "userId": 7, "eventType": "wishlist",
            "timestamp": "soon", "tags": [], "price": -1, "quantity": -2, "sessionId": 3});
        let fields: Vec<String> =
            check_value(Some(2), &value).into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "eventId",
                "userId",
                "productId",
                "eventType",
                "timestamp",
                "tags",
                "price",
                "quantity",
                "sessionId"
            ]
        );
    }

    #[test]
    fn control_characters_in_ids_and_tags_are_named() {
        for hostile in ["u\u{1f}1", "u\u{0}1", "u\n1", "u\u{85}1"] {
            let value = json!({"eventId": "e1", "userId": hostile, "productId": hostile,
                "eventType": "view", "timestamp": 1_764_115_200_000_i64, "tags": ["a", hostile]});
            let problems = check_value(None, &value);
            let named: Vec<(&str, &str)> =
                problems.iter().map(|p| (p.field.as_str(), p.reason.as_str())).collect();
            let expected = [
                ("userId", "control_character"),
                ("productId", "control_character"),
                ("tags", "control_character"),
            ];
            assert_eq!(named, expected, "{hostile:?}");
        }
        let wide = json!({"eventId": "e😀", "userId": "u𝔘\u{2028}:", "productId": "p\"\\",
            "eventType": "view", "timestamp": 1_764_115_200_000_i64, "tags": ["😀"]});
        let bytes = serde_json::to_vec(&wide).unwrap();
        assert_eq!(validate(None, &wide, &bytes).unwrap().user_id, "u𝔘\u{2028}:");
    }

    #[test]
    fn accepts_what_the_job_accepts() {
        let value = json!({"eventId": "e1", "userId": "u1", "productId": "p1", "eventType": "view",
            "timestamp": 1_764_115_200_000_i64, "tags": ["a", "b"]});
        let bytes = serde_json::to_vec(&value).unwrap();
        let event = validate(None, &value, &bytes).unwrap();
        assert_eq!(event.user_id, "u1");
    }

    #[test]
    fn oversize_events_are_rejected_by_the_model() {
        let value = json!({"eventId": "e1", "userId": "u1", "productId": "p1", "eventType": "view",
            "timestamp": 1_764_115_200_000_i64, "tags": ["a"], "note": "x".repeat(20_000)});
        let bytes = serde_json::to_vec(&value).unwrap();
        let problems = validate(Some(0), &value, &bytes).unwrap_err();
        assert_eq!(problems[0].reason, "oversize");
    }
}
