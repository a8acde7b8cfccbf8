//! `/healthz` (the process answers), `/readyz` (Redis and Kafka answer),
//! `/metrics` (Prometheus text) and `/api/stats` (live ingestion rate and
//! snapshot facts for the dashboard).

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::background::{ping_redis, sum_watermarks};
use crate::error::{ErrorBody, envelope};
use crate::state::AppState;

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "The process is alive",
    responses((status = 200, description = "alive", body = Object)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when both dependencies answer within their timeouts,
/// else 503 in the error envelope naming the ones that did not.
#[utoipa::path(get, path = "/readyz", tag = "operations", summary = "Redis and Kafka are reachable",
    responses(
        (status = 200, description = "both dependencies answered", body = Object),
        (status = 503, description = "a dependency did not answer; the message names it", body = ErrorBody<'static>),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let redis = ping_redis(&state).await;
    let kafka_state = state.clone();
    let timeout = state.config().kafka_timeout;
    let kafka = tokio::task::spawn_blocking(move || {
        let topics = kafka_state.0.topics.event_topics();
        sum_watermarks(&kafka_state.0.metadata, &topics[..1], timeout).map_err(|e| e.to_string())
    });
    let kafka = match tokio::time::timeout(timeout * 2, kafka).await {
        Ok(Ok(result)) => result.map(drop),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    };
    state.0.metrics.set_dependency("redis", redis.is_ok());
    state.0.metrics.set_dependency("kafka", kafka.is_ok());
    let mut down = Vec::new();
    if let Err(err) = &redis {
        down.push(format!("redis: {err}"));
    }
    if let Err(err) = &kafka {
        down.push(format!("kafka: {err}"));
    }
    if down.is_empty() {
        Json(json!({"status": "ready", "redis": "up", "kafka": "up"})).into_response()
    } else {
        envelope(StatusCode::SERVICE_UNAVAILABLE, "not_ready", &down.join("; "), &[])
    }
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics",
    description = "OpenMetrics text when the Accept header allows it (as Prometheus sends), else the Prometheus text format 0.0.4.",
    responses((status = 200, description = "the exposition",
        content((String = "application/openmetrics-text"), (String = "text/plain")))),
    params(("Accept" = Option<String>, Header, description = "`application/openmetrics-text` for OpenMetrics")))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (content_type, body) = state.0.metrics.render_for(accept);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Live facts for the dashboard.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Events per second acknowledged by Kafka on the three event topics
    /// (difference of the sum of their partitions' high watermarks over the
    /// last ~1 s sample); null before the first two samples.
    pub events_per_second: Option<f64>,
    /// Sum of the event topics' high watermarks (events ever written).
    pub events_total: u64,
    /// Products in the catalog snapshot.
    pub catalog_products: usize,
    /// The day popularity is counted for.
    pub popularity_day: String,
}

/// `GET /api/stats`.
#[utoipa::path(get, path = "/api/stats", tag = "operations",
    summary = "Live events/s and snapshot facts, for the dashboard",
    responses((status = 200, description = "the facts", body = Stats)))]
pub async fn stats(State(state): State<AppState>) -> Json<Stats> {
    let snapshot = state.snapshot();
    Json(Stats {
        events_per_second: state.events_per_second(),
        events_total: state.0.live.total.load(Ordering::Relaxed),
        catalog_products: snapshot.catalog.len(),
        popularity_day: snapshot.popularity.day.clone(),
    })
}
