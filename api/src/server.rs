//! The router with every route and layer ([`app`]), and serving it with
//! graceful shutdown ([`serve`]).

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::connections::ConnectionLimits;
use crate::error::{AppError, envelope};
use crate::openapi;
use crate::state::AppState;

/// Every route and layer of the API.
pub fn app(state: AppState) -> Router {
    let config = state.config().clone();
    let (routes, _doc) = openapi::routes();
    let mut router = routes.fallback(not_found).layer(DefaultBodyLimit::max(config.body_limit));
    if let Some(limiter) = &state.0.rate_limiter {
        router = router.layer(crate::rate_limit::layer(limiter));
    }
    if !config.stale_for.is_zero() {
        router = router
            .layer(middleware::from_fn_with_state(state.clone(), crate::fallback::serve_stale));
    }
    router = router.layer(middleware::from_fn_with_state(state.clone(), observe));
    if let Some(cors) = cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    router.layer(TraceLayer::new_for_http()).with_state(state)
}

/// The CORS layer for `origins` (none when empty): `*` allows any origin,
/// without credentials; otherwise exactly the listed origins.
/// [`crate::AppState::connect`] has rejected invalid lists already.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let allow = match origins {
        [] => return None,
        [any] if any == "*" => AllowOrigin::any(),
        list => AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok())),
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
    )
}

/// Checks a `--cors-origin` list: `*` alone, or origins that are valid
/// header values (`scheme://host[:port]`).
pub fn check_cors_origins(origins: &[String]) -> Result<(), String> {
    if origins.len() > 1 && origins.iter().any(|o| o == "*") {
        return Err("`*` allows every origin: give it alone, not in a list".into());
    }
    for origin in origins.iter().filter(|o| *o != "*") {
        let valid = HeaderValue::from_str(origin).is_ok()
            && (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.contains(['*', ' '])
            && !origin.ends_with('/');
        if !valid {
            return Err(format!(
                "{origin:?} is not an origin (scheme://host[:port], no path): give `*` or origins"
            ));
        }
    }
    Ok(())
}

async fn not_found(request: Request) -> AppError {
    AppError::NotFound(format!("{} {}", request.method(), request.uri().path()))
}

/// Times the request out, records metrics, and puts any error response
/// that is not already in the JSON envelope (axum's 405, rejections) into it.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let timeout = state.config().request_timeout;
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => normalize(response),
        Err(_) => AppError::Timeout(timeout).into_response(),
    };
    state.0.metrics.observe_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

fn normalize(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body is over the limit"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "send application/json"),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "bad request"),
    };
    let mut fresh = envelope(status, code, message, &[]);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}

/// Serves `app(state)` on `listener` within the configured connection
/// limits until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _background = crate::background::spawn(&state);
    let config = state.config();
    let limits = ConnectionLimits {
        header_read_timeout: config.header_read_timeout,
        max_connections: config.max_connections,
        shutdown_grace: config.request_timeout * 2,
    };
    crate::connections::serve(listener, app(state), limits, shutdown).await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing requests in flight");
}
