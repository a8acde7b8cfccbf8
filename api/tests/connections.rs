//! Slow and greedy clients against a served API, over real sockets: a
//! slowloris client and a silent one are disconnected after the header-read
//! timeout, a connection flood cannot open more than `--max-connections`,
//! and a request flood from one address gets 429 with Retry-After while
//! another address is served.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use api::Config;
use api::rate_limit::RateLimit;
use common::config;
use testkit::redis_database;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;

/// A served API; dropping it shuts the server down.
struct Served {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn serve(config: Config) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = api::AppState::connect(config).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Served { addr, _stop: stop }
}

/// One response read from `stream`: status and head (None when the server
/// closed the connection first).
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
            return Some((status, head, body));
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn get(stream: &mut TcpStream, path: &str) -> Option<(u16, String, String)> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: tagflow\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    read_response(stream).await
}

/// Waits until the server closes `stream` (read gives 0 or an error).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(limit, stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn slowloris_and_silent_clients_are_disconnected() {
    let mut cfg = config(&redis_database(), None);
    cfg.header_read_timeout = Duration::from_secs(1);
    let served = serve(cfg).await;
    let mut silent = TcpStream::connect(served.addr).await.unwrap();
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: tagflow\r\n").await.unwrap();
    // One header line every 200 ms: never a whole head.
    let mut cut_off = None;
    for i in 0..25 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let line = format!("X-Slow-{i}: {}\r\n", "y".repeat(10));
        if slow.write_all(line.as_bytes()).await.is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(1)).await {
            cut_off = Some(started.elapsed());
            break;
        }
    }
    let cut_off = cut_off.expect("a slowloris client kept its connection for 5 s");
    assert!(cut_off < Duration::from_secs(3), "disconnected after {cut_off:?}");
    assert!(closed_within(&mut silent, Duration::from_secs(2)).await, "a silent client stayed");
    // A client that sends its request at once is served.
    let mut polite = TcpStream::connect(served.addr).await.unwrap();
    assert_eq!(get(&mut polite, "/healthz").await.unwrap().0, 200);
}

#[tokio::test]
async fn a_connection_flood_cannot_exceed_max_connections() {
    let mut cfg = config(&redis_database(), None);
    cfg.max_connections = 8;
    cfg.header_read_timeout = Duration::from_secs(30);
    let served = serve(cfg).await;
    // Eight connections that send nothing hold every slot.
    let mut flood = Vec::new();
    for _ in 0..8 {
        flood.push(TcpStream::connect(served.addr).await.unwrap());
    }
    // A ninth (and more) wait in the backlog, unanswered.
    let mut extra = Vec::new();
    for _ in 0..20 {
        extra.push(TcpStream::connect(served.addr).await.unwrap());
    }
    let mut waiting = TcpStream::connect(served.addr).await.unwrap();
    let unanswered =
        tokio::time::timeout(Duration::from_millis(800), get(&mut waiting, "/healthz"));
    assert!(unanswered.await.is_err(), "a connection beyond the limit was served");
    // Closing the flood frees the slots: the waiting client is served.
    drop(flood);
    drop(extra);
    let answered = tokio::time::timeout(Duration::from_secs(5), read_response(&mut waiting)).await;
    assert_eq!(answered.expect("not served once slots were free").unwrap().0, 200);
}

#[tokio::test]
async fn a_request_flood_gets_429_with_retry_after_per_address() {
    let mut cfg = config(&redis_database(), None);
    cfg.rate_limit = RateLimit { per_second: 5, burst: 10 };
    let served = serve(cfg).await;
    let mut flooder = TcpStream::connect(served.addr).await.unwrap();
    let started = Instant::now();
    let mut ok = 0;
    let mut limited = None;
    for _ in 0..100 {
        let (status, head, body) = get(&mut flooder, "/healthz").await.unwrap();
        match status {
            200 => ok += 1,
            429 => limited = Some((head, body)),
            other => panic!("status {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = 10.0 + 5.0 * elapsed + 1.0;
    assert!(f64::from(ok) <= allowed, "{ok} requests passed in {elapsed:.2} s");
    assert!(ok >= 10, "only {ok} requests passed: the burst is 10");
    let (head, body) = limited.expect("no request was limited");
    let retry: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after:"))
        .expect("Retry-After")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"]["code"], "rate_limited", "{body}");
    // Another client address has a quota of its own (all of 127/8 is loopback).
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(served.addr).await.unwrap();
    assert_eq!(get(&mut other, "/healthz").await.unwrap().0, 200);
    // And the flooder is served again once its quota refills.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(get(&mut flooder, "/healthz").await.unwrap().0, 200);
}
