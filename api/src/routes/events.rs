//! `POST /api/user-behavior` (ingestion into Kafka) and
//! `GET /api/user-behavior` (the most recent events).

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use model::{Event, keys};
use rdkafka::producer::FutureRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AppError, AppResult, ErrorBody, FieldError};
use crate::state::AppState;
use crate::transactions::Record;
use crate::validate::validate;

/// Most events per POST.
pub const MAX_BATCH: usize = 1_000;
/// Most events per GET.
pub const MAX_RECENT: usize = 1_000;

/// The 202 body.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// Events acknowledged by Kafka (acks=all).
    pub accepted: usize,
}

/// `POST /api/user-behavior`: one event or an array of up to 1,000.
#[utoipa::path(
    post,
    path = "/api/user-behavior",
    tag = "ingestion",
    summary = "Ingest one event or a batch of up to 1,000, all or nothing",
    description = "202 once Kafka acknowledged every event (acks=all). A bearer token is required when the API has one.",
    request_body = crate::event_schema::EventOrBatch,
    security((), ("bearer" = [])),
    responses(
        (status = 202, description = "every event acknowledged", body = Accepted),
        (status = 400, description = "invalid body; `details` names every bad field", body = ErrorBody<'static>),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody<'static>),
        (status = 413, description = "body over the limit", body = ErrorBody<'static>),
        (status = 429, description = "over the client's rate limit", body = ErrorBody<'static>),
        (status = 503, description = "Kafka unavailable or too slow; nothing was ingested", body = ErrorBody<'static>),
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<(StatusCode, Json<Accepted>)> {
    authorize(&state, &headers)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(state.config().body_limit)
        } else {
            AppError::BadRequest(rejection.body_text())
        }
    })?;
    let events = parse_body(&body)?;
    produce(&state, &events).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted: events.len() })))
}

fn authorize(state: &AppState, headers: &HeaderMap) -> AppResult<()> {
    let Some(token) = &state.config().auth_token else { return Ok(()) };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same_secret(given, token) { Ok(()) } else { Err(AppError::Unauthorized) }
}

/// Whether `given` is `secret`, in time that depends on neither: their
/// SHA-256 digests (fixed length) are compared in constant time, so timing
/// tells nothing of the secret's content or length.
pub fn same_secret(given: &str, secret: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(secret.as_bytes())).into()
}

/// Validates a body holding one event or an array of events.
pub fn parse_body(body: &[u8]) -> AppResult<Vec<Event<'static>>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let reason = if e.is_data() { "schema" } else { "malformed_json" };
        AppError::Validation {
            message: format!("the body is not valid JSON: {e}"),
            details: vec![FieldError {
                index: None,
                field: "body".into(),
                reason: reason.into(),
                message: e.to_string(),
            }],
        }
    })?;
    let (items, batch) = match value {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    if batch && items.is_empty() {
        return Err(AppError::field("body", "empty_batch", "the array holds no events"));
    }
    if items.len() > MAX_BATCH {
        return Err(AppError::field(
            "body",
            "batch_too_large",
            format!("{} events in one request, at most {MAX_BATCH}", items.len()),
        ));
    }
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    let mut buf = Vec::new();
    for (i, item) in items.iter().enumerate() {
        buf.clear();
        // Serializing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut buf, item);
        match validate(batch.then_some(i), item, &buf) {
            Ok(event) => events.push(event),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        let bad = problems.iter().map(|p| p.index).collect::<std::collections::BTreeSet<_>>().len();
        Err(AppError::Validation {
            message: format!("{bad} of {} events are invalid; nothing was ingested", items.len()),
            details: problems,
        })
    }
}

/// Produces every event (key = userId) and waits for every acknowledgement:
/// in one transaction with `--kafka-transactions`.
async fn produce(state: &AppState, events: &[Event<'static>]) -> AppResult<()> {
    if let Some(transactional) = &state.0.transactional {
        let records: Vec<Record> = events
            .iter()
            .map(|event| {
                let mut payload = Vec::new();
                event.write_json(&mut payload);
                let topic = state.0.topics.for_type(event.event_type).to_owned();
                Record { topic, key: event.user_id.to_string(), payload }
            })
            .collect();
        transactional.produce_all(records).await.map_err(|err| {
            AppError::kafka(format!("nothing was ingested; retry the request ({err})"))
        })?;
        for event in events {
            state.0.metrics.ingested(state.0.topics.for_type(event.event_type), 1);
        }
        return Ok(());
    }
    let producer = &state.0.producer;
    let timeout = state.config().kafka_timeout;
    let mut pending = Vec::with_capacity(events.len());
    let mut buf = Vec::new();
    for event in events {
        event.write_json(&mut buf);
        let topic = state.0.topics.for_type(event.event_type);
        let record = FutureRecord::to(topic).key(event.user_id.as_ref()).payload(&buf);
        match producer.send_result(record) {
            Ok(delivery) => pending.push((topic, delivery)),
            Err((err, _)) => return Err(AppError::kafka(format!("cannot enqueue: {err}"))),
        }
    }
    let deadline = tokio::time::Instant::now() + timeout + Duration::from_millis(100);
    let mut failure = None;
    let mut acked = 0;
    for (topic, delivery) in pending {
        match tokio::time::timeout_at(deadline, delivery).await {
            Ok(Ok(Ok(_))) => {
                acked += 1;
                state.0.metrics.ingested(topic, 1);
            }
            Ok(Ok(Err((err, _)))) => failure = Some(err.to_string()),
            Ok(Err(_)) => failure = Some("delivery cancelled".into()),
            Err(_) => failure = Some(format!("no acknowledgement within {timeout:?}")),
        }
    }
    match failure {
        None => Ok(()),
        Some(err) => Err(AppError::kafka(format!(
            "{acked} of {} events acknowledged; retry the request ({err})",
            events.len()
        ))),
    }
}

/// Query of `GET /api/user-behavior`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// Number of events (1 to 1,000; default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The most recent events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Recent {
    /// Newest first, as the job stored them.
    #[schema(value_type = Vec<crate::event_schema::EventDocument>)]
    pub events: Vec<Value>,
}

/// `GET /api/user-behavior?limit=`: the newest events (the job's `events` list).
#[utoipa::path(
    get,
    path = "/api/user-behavior",
    tag = "ingestion",
    summary = "The most recent events, newest first",
    params(RecentQuery),
    responses(
        (status = 200, description = "newest first", body = Recent),
        (status = 400, description = "invalid query", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable", body = ErrorBody<'static>),
    )
)]
pub async fn recent(
    State(state): State<AppState>,
    query: Result<Query<RecentQuery>, QueryRejection>,
) -> AppResult<Json<Recent>> {
    let q = super::query(query)?;
    let limit = super::limit(q.limit, 50, MAX_RECENT)?;
    let raw: Vec<Vec<u8>> = state
        .with_redis(|mut conn| async move {
            redis::cmd("LRANGE")
                .arg(keys::EVENTS)
                .arg(0)
                .arg(limit - 1)
                .query_async(&mut conn)
                .await
        })
        .await?;
    let events = raw.iter().filter_map(|r| serde_json::from_slice(r).ok()).collect();
    Ok(Json(Recent { events }))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_secret_itself_matches() {
        assert!(same_secret("s3cret", "s3cret"));
        for other in ["", "s3cre", "s3cret ", "S3cret", "s3cretX", "x3cret"] {
            assert!(!same_secret(other, "s3cret"), "{other:?}");
        }
        assert!(!same_secret("s3cret", ""));
    }
}
