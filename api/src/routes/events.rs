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

use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::validate::validate;

/// Most events per POST.
pub const MAX_BATCH: usize = 1_000;
/// Most events per GET.
pub const MAX_RECENT: usize = 1_000;

/// The 202 body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// Events acknowledged by Kafka (acks=all).
    pub accepted: usize,
}

/// `POST /api/user-behavior`: one event or an array of up to 1,000.
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
    // Compare without an early exit, so timing says nothing about the token.
    let same = given.len() == token.len()
        && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same { Ok(()) } else { Err(AppError::Unauthorized) }
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

/// Produces every event (key = userId) and waits for every acknowledgement.
async fn produce(state: &AppState, events: &[Event<'static>]) -> AppResult<()> {
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
#[derive(Debug, Deserialize)]
pub struct RecentQuery {
    /// Number of events (1 to 1,000; default 50).
    pub limit: Option<usize>,
}

/// The most recent events.
#[derive(Debug, Serialize)]
pub struct Recent {
    /// Newest first.
    pub events: Vec<Value>,
}

/// `GET /api/user-behavior?limit=`: the newest events (the job's `events` list).
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
