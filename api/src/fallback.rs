//! The read-only fallback: when Redis is down or slower than
//! `--redis-timeout`, the profile, batch-profile, recommendation and UV
//! reads answer from a bounded in-process cache of recent answers, at most
//! `--stale-for` old, marked `Warning: 110 - "Response is Stale"` with an
//! `Age`, and counted in `api_stale_answers_total{route}`. Only when no
//! answer fits does the client get the 503.
//!
//! The cache (quick_cache, bounded to `--stale-cache-bytes` of keys and
//! bodies) keys an answer by method, path, query and, for `POST
//! /api/user-profiles`, the body. A fresh answer is stored at most once a
//! second per key, so a hot key mostly pays one lookup. quick_cache rather
//! than moka: this sits on every read, and moka's inserts (a write-op
//! channel, housekeeping run by the callers, its map's rehashing) showed in
//! the API's profile under `bench/api/run` (docs/benchmarks.md, "API"),
//! where quick_cache has none of them; entries expire by their age at
//! recall instead of a time-to-live.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

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

/// An answer's weight in the cache: its key and body bytes, plus a
/// rough bookkeeping overhead.
#[derive(Debug, Clone, Copy)]
struct AnswerBytes;

/// Bytes per entry besides the key and body (the `Answer`, its `Arc`, the
/// cache's own entry).
const ENTRY_OVERHEAD: usize = 64;

impl Weighter<Vec<u8>, Arc<Answer>> for AnswerBytes {
    fn weight(&self, key: &Vec<u8>, answer: &Arc<Answer>) -> u64 {
        u64::try_from(key.len() + answer.body.len() + ENTRY_OVERHEAD).unwrap_or(u64::MAX)
    }
}

/// Recent answers of the read routes.
#[derive(Debug, Clone)]
pub struct StaleCache {
    answers: Arc<Cache<Vec<u8>, Arc<Answer>, AnswerBytes>>,
    stale_for: Duration,
}

impl StaleCache {
    /// A cache of at most `max_bytes` of answers, each served at most
    /// `stale_for` after it was stored.
    pub fn new(max_bytes: u64, stale_for: Duration) -> Self {
        // quick_cache sizes its tables by an estimate of the entry count.
        let typical_entry = 2048;
        let estimated = usize::try_from(max_bytes / typical_entry).unwrap_or(usize::MAX).max(16);
        let answers = Arc::new(Cache::with_weighter(estimated, max_bytes, AnswerBytes));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: usize) -> Bytes {
        Bytes::from(vec![b'x'; bytes])
    }

    #[test]
    fn the_cache_holds_at_most_its_bytes_and_keeps_the_newest_answer() {
        let max_bytes = 64 * 1024;
        let cache = StaleCache::new(max_bytes, Duration::from_secs(60));
        for user in 0..1_000 {
            cache.remember(format!("GET /u{user}?").into_bytes(), None, body(1_000));
        }
        assert!(cache.answers.weight() <= max_bytes, "{} bytes", cache.answers.weight());
        assert!(cache.answers.len() >= 16, "{} answers", cache.answers.len());
        let newest = cache.recall(b"GET /u999?").expect("the newest answer is kept");
        assert_eq!(newest.body.len(), 1_000);
        assert!(cache.recall(b"GET /u999?x").is_none(), "a key is its whole request line");
    }

    #[test]
    fn an_answer_older_than_stale_for_is_not_served_and_a_fresh_one_is_not_stored_twice() {
        let cache = StaleCache::new(1 << 20, Duration::from_millis(20));
        cache.remember(b"GET /a?".to_vec(), None, body(10));
        assert!(!cache.needs_refresh(b"GET /a?"), "stored less than a second ago");
        assert!(cache.needs_refresh(b"GET /b?"), "never stored");
        assert!(cache.recall(b"GET /a?").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.recall(b"GET /a?").is_none(), "older than --stale-for");
    }
}
