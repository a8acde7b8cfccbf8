//! The read-only fallback: when Redis is down or slower than
//! `--redis-timeout`, the profile, batch-profile, recommendation and UV
//! reads answer from a bounded in-process cache of recent answers, at most
//! `--stale-for` old, marked `Warning: 110 - "Response is Stale"` with an
//! `Age`, and counted in `api_stale_answers_total{route}`. Only when no
//! answer fits does the client get the 503.
//!
//! The cache (moka, bounded to `--stale-cache-bytes` of bodies) keys an
//! answer by method, path, query and, for `POST /api/user-profiles`, the
//! body. A fresh answer is stored at most once a second per key, so the hot
//! path mostly pays one lookup.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use moka::sync::Cache;

use crate::error::{AppError, DependencyDown};
use crate::state::AppState;

/// The routes whose answers may be served stale.
pub const READ_ROUTES: [&str; 5] = [
    "/api/user-profile/{userId}",
    "/api/user-profiles",
    "/api/recommendations/{userId}",
    "/api/uv-data",
    "/api/uv-data/{productId}",
];

/// A fresh answer is stored again only when the stored one is this old.
const REFRESH_AFTER: Duration = Duration::from_secs(1);

/// One remembered answer.
#[derive(Debug)]
struct Answer {
    at: Instant,
    content_type: Option<HeaderValue>,
    body: Bytes,
}

/// Recent answers of the read routes.
#[derive(Debug, Clone)]
pub struct StaleCache {
    answers: Cache<Vec<u8>, Arc<Answer>>,
    stale_for: Duration,
}

impl StaleCache {
    /// A cache of at most `max_bytes` of answers, each kept `stale_for`.
    pub fn new(max_bytes: u64, stale_for: Duration) -> Self {
        let answers = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &Vec<u8>, answer: &Arc<Answer>| {
                u32::try_from(key.len() + answer.body.len() + 64).unwrap_or(u32::MAX)
            })
            .time_to_live(stale_for.max(Duration::from_millis(1)))
            .build();
        Self { answers, stale_for }
    }

    fn remember(&self, key: Vec<u8>, content_type: Option<HeaderValue>, body: Bytes) {
        let answer = Answer { at: Instant::now(), content_type, body };
        self.answers.insert(key, Arc::new(answer));
    }

    fn needs_refresh(&self, key: &[u8]) -> bool {
        self.answers.get(key).is_none_or(|a| a.at.elapsed() >= REFRESH_AFTER)
    }

    fn recall(&self, key: &[u8]) -> Option<Arc<Answer>> {
        self.answers.get(key).filter(|a| a.at.elapsed() <= self.stale_for)
    }
}

/// Middleware: remembers the read routes' answers and answers from them
/// when the handler reports Redis unavailable.
pub async fn serve_stale(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(route) = route.filter(|r| READ_ROUTES.contains(&r.as_str())) else {
        return next.run(request).await;
    };
    let cache = &state.0.stale;
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(request.method().as_str().as_bytes());
    key.push(b' ');
    key.extend_from_slice(request.uri().path().as_bytes());
    key.push(b'?');
    key.extend_from_slice(request.uri().query().unwrap_or("").as_bytes());
    let request = if request.method() == axum::http::Method::POST {
        let (parts, body) = request.into_parts();
        let limit = state.config().body_limit;
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return AppError::PayloadTooLarge(limit).into_response();
        };
        key.push(b'\n');
        key.extend_from_slice(&bytes);
        Request::from_parts(parts, Body::from(bytes))
    } else {
        request
    };
    let response = next.run(request).await;
    if response.status() == StatusCode::OK {
        if !cache.needs_refresh(&key) {
            return response;
        }
        let (parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return AppError::Internal("unreadable response body".into()).into_response();
        };
        cache.remember(key, parts.headers.get(header::CONTENT_TYPE).cloned(), bytes.clone());
        return Response::from_parts(parts, Body::from(bytes));
    }
    let redis_down = response.extensions().get::<DependencyDown>().is_some_and(|d| d.0 == "redis");
    if !redis_down {
        return response;
    }
    match cache.recall(&key) {
        Some(answer) => {
            state.0.metrics.stale_answer(&route);
            stale(&answer)
        }
        None => response,
    }
}

fn stale(answer: &Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone()));
    let headers = response.headers_mut();
    if let Some(content_type) = &answer.content_type {
        headers.insert(header::CONTENT_TYPE, content_type.clone());
    }
    headers.insert(header::WARNING, HeaderValue::from_static("110 - \"Response is Stale\""));
    headers.insert(header::AGE, HeaderValue::from(answer.at.elapsed().as_secs()));
    response
}
