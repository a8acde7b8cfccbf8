//! Serving `/metrics` over HTTP from a small background thread.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::metrics::JobMetrics;

/// Binds `addr` and serves the metrics from a background thread; returns
/// the bound address (useful with port 0).
pub fn serve(addr: SocketAddr, metrics: Arc<JobMetrics>) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("metrics-http".into()).spawn(move || {
        runtime.block_on(async move {
            let app = Router::new().route(
                "/metrics",
                get(move || {
                    let metrics = Arc::clone(&metrics);
                    async move {
                        (
                            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                            metrics.render(),
                        )
                    }
                }),
            );
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    if let Err(err) = axum::serve(listener, app).await {
                        tracing::error!(%err, "metrics server stopped");
                    }
                }
                Err(err) => tracing::error!(%err, "metrics listener unusable"),
            }
        });
    })?;
    Ok(bound)
}
