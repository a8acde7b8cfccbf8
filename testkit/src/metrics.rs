//! Reading a tagflow process's Prometheus endpoint from tests, with a
//! plain HTTP/1.0 GET (no client library needed for one text page).

use std::io::{Read, Write};
use std::net::TcpStream;

/// The response (headers and text) of `GET /metrics` at `address`
/// (`host:port`), or the error that prevented it.
pub fn scrape_metrics_at(address: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: tagflow\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}
