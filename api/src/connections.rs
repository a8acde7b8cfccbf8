//! Serving connections with bounds a hostile or unlucky client cannot
//! lift: HTTP/1.1 through hyper with its timer set, so a client that does
//! not send a whole request head within `--header-read-timeout` (a slowloris
//! client, or an idle keep-alive connection) is disconnected; at most
//! `--max-connections` connections at once (beyond them, new ones wait in
//! the listen backlog until one closes); graceful shutdown that finishes the
//! requests in flight.
//!
//! HTTP/1.1 only: hyper's automatic HTTP/2 detection reads the preface with
//! no timeout, which a silent client could hold forever.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Bounds on the connections a server accepts.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request head (also the longest
    /// an idle keep-alive connection is kept).
    pub header_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest the graceful shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` within `limits` until `shutdown`
/// completes, then lets the connections finish their requests in flight
/// (for at most `limits.shutdown_grace`). Handlers see the client's address
/// as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: Request<_>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            request
        });
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %remote, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(open = graceful.count(), "shutting down: finishing requests in flight");
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after {:?}; stopping", limits.shutdown_grace);
    }
    Ok(())
}

/// The client address of a request served by [`serve`], if any.
pub fn client_address<B>(request: &axum::http::Request<B>) -> Option<SocketAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| *addr)
}
