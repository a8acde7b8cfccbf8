//! The per-client rate limit (`--rate-limit`, `--rate-limit-burst`):
//! `tower_governor` (a GCRA limiter per client IP address) answering 429 in
//! the error envelope with `Retry-After`, and the periodic clean-up that
//! keeps its table of addresses bounded.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorLayer;
use tower_governor::errors::GovernorError;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::connections::client_address;
use crate::error::envelope;

/// Requests per second a client address may sustain, and its burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests a client may send at once before waiting.
    pub burst: u32,
}

/// Keys requests by the client's IP address. Requests that did not come
/// through a socket (in-process tests) share one key.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp;

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(client_address(request).map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip()))
    }
}

/// The limiter's configuration, shared by the layer and the clean-up task.
pub type Limiter = Arc<GovernorConfig<ClientIp, NoOpMiddleware>>;

/// A limiter for `limit` (None when it is zero).
pub fn limiter(limit: RateLimit) -> Option<Limiter> {
    if limit.per_second == 0 {
        return None;
    }
    let period = Duration::from_nanos(1_000_000_000 / u64::from(limit.per_second));
    GovernorConfigBuilder::default()
        .key_extractor(ClientIp)
        .period(period)
        .burst_size(limit.burst.max(1))
        .finish()
        .map(Arc::new)
}

/// The layer answering over-limit requests with 429 in the envelope.
pub fn layer(limiter: &Limiter) -> GovernorLayer<ClientIp, NoOpMiddleware, Body> {
    GovernorLayer::new(limiter.clone()).error_handler(too_many)
}

fn too_many(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            // The limiter rounds the wait down to whole seconds; never say 0.
            let wait = wait_time.max(1);
            let mut response = envelope(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                &format!("too many requests from this address; retry in {wait} s"),
                &[],
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            response
        }
        other => envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &format!("rate limiter: {other}"),
            &[],
        ),
    }
}

/// Forgets addresses whose quota is full again, every `every`, so the
/// table holds only recently active clients.
pub async fn clean_up(limiter: Limiter, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        limiter.limiter().retain_recent();
        limiter.limiter().shrink_to_fit();
    }
}
