//! The far ends of Alertmanager's notifications, for tests: an HTTP server
//! that records the webhook requests it gets, and an SMTP server that
//! records the mail it is given (plain SMTP, no TLS or AUTH: what
//! Alertmanager speaks with `require_tls: false` and no credentials). Each
//! serves on 127.0.0.1 from a thread of its own for the rest of the test
//! process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, bail};

/// What a receiver has recorded so far.
type Log = Arc<Mutex<Vec<String>>>;

fn snapshot(log: &Log) -> Vec<String> {
    log.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Accepts connections on a free port and hands each to `serve` (in turn),
/// appending what it returns to the log; a failed exchange is logged as
/// `error: ...`.
fn spawn(
    name: &str,
    serve: impl Fn(TcpStream) -> anyhow::Result<String> + Send + 'static,
) -> anyhow::Result<(SocketAddr, Log)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let sink = Arc::clone(&log);
    std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let entry = serve(stream).unwrap_or_else(|err| format!("error: {err:#}"));
            sink.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
        }
    })?;
    Ok((addr, log))
}

/// An HTTP server that answers every request 200 and records the bodies.
#[derive(Debug)]
pub struct WebhookReceiver {
    addr: SocketAddr,
    bodies: Log,
}

impl WebhookReceiver {
    /// Starts it on a free port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub fn start() -> anyhow::Result<Self> {
        let (addr, bodies) = spawn("webhook-receiver", read_http_request)?;
        Ok(Self { addr, bodies })
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The request bodies received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        snapshot(&self.bodies)
    }
}

/// Reads one request (headers, then `Content-Length` bytes of body),
/// answers `200 OK` and returns the body.
fn read_http_request(stream: TcpStream) -> anyhow::Result<String> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("connection closed in the headers");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().context("Content-Length")?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("unsupported Transfer-Encoding {value}");
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// An SMTP server that accepts every message and records it as
/// `MAIL FROM:<..>\nRCPT TO:<..>\n\n<message>`.
#[derive(Debug)]
pub struct SmtpReceiver {
    addr: SocketAddr,
    messages: Log,
}

impl SmtpReceiver {
    /// Starts it on a free port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub fn start() -> anyhow::Result<Self> {
        let (addr, messages) = spawn("smtp-receiver", smtp_session)?;
        Ok(Self { addr, messages })
    }

    /// `127.0.0.1:<port>`, for a smarthost setting.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The messages received so far, in order, with soft line breaks of
    /// quoted-printable bodies joined back (`=\r\n`).
    pub fn messages(&self) -> Vec<String> {
        snapshot(&self.messages).into_iter().map(|m| m.replace("=\r\n", "")).collect()
    }
}

/// One SMTP session: greeting, EHLO/HELO, MAIL, RCPT, DATA, QUIT.
fn smtp_session(stream: TcpStream) -> anyhow::Result<String> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = &stream;
    out.write_all(b"220 127.0.0.1 tagflow test SMTP\r\n")?;
    let mut envelope = String::new();
    let mut message = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            // A client may hang up after DATA without QUIT: the mail was given.
            if message.is_empty() {
                bail!("connection closed before DATA; got {envelope}");
            }
            return Ok(format!("{envelope}\n{message}"));
        }
        let command = line.trim_end().to_owned();
        let verb = command.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => out.write_all(b"250 127.0.0.1\r\n")?,
            "MAIL" | "RCPT" => {
                envelope.push_str(&command);
                envelope.push('\n');
                out.write_all(b"250 OK\r\n")?;
            }
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                loop {
                    let mut data = String::new();
                    if reader.read_line(&mut data)? == 0 {
                        bail!("connection closed in DATA");
                    }
                    if data == ".\r\n" || data == ".\n" {
                        break;
                    }
                    message.push_str(data.strip_prefix('.').unwrap_or(&data));
                }
                out.write_all(b"250 OK: queued\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(format!("{envelope}\n{message}"));
            }
            "RSET" | "NOOP" => out.write_all(b"250 OK\r\n")?,
            _ => out.write_all(b"502 not implemented\r\n")?,
        }
    }
}
