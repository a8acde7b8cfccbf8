//! A minimal HTTP/1.0 client over `std::net` for tests (no HTTP crate in
//! the dependency graph of this crate): enough for `/metrics`, health checks
//! and Prometheus's JSON API. HTTP/1.0 keeps servers from chunking replies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, anyhow};

/// A response: status code and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// `GET http://{addr}{path}`.
///
/// # Errors
/// On connection or protocol errors (not on 4xx/5xx statuses).
pub fn get(addr: &str, path: &str) -> anyhow::Result<Response> {
    request(addr, "GET", path, None)
}

/// `POST http://{addr}{path}` with a JSON body.
///
/// # Errors
/// On connection or protocol errors (not on 4xx/5xx statuses).
pub fn post_json(addr: &str, path: &str, body: &str) -> anyhow::Result<Response> {
    request(addr, "POST", path, Some(body))
}

fn request(addr: &str, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<Response> {
    let socket: SocketAddr =
        addr.to_socket_addrs()?.next().ok_or_else(|| anyhow!("{addr} does not resolve"))?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\n");
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body.as_bytes())?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).with_context(|| format!("reading the reply of {addr}{path}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| anyhow!("no HTTP header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line: {head}"))?;
    Ok(Response { status, body: body.to_owned() })
}
