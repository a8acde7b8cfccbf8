//! [`BlackHoleProxy`]: a TCP proxy in front of a real server that can
//! swallow traffic, as a network partition or a hung server does: the
//! client's writes succeed, and no reply ever comes.
//!
//! While the black hole is on, every connection, open or new, has its
//! bytes discarded in both directions, and a connection that was swallowed
//! stays so for good (its replies would be out of step with its commands).
//! Once it is off, new connections are forwarded again.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A forwarding proxy on a free port of 127.0.0.1.
#[derive(Debug)]
pub struct BlackHoleProxy {
    address: SocketAddr,
    swallowing: Arc<AtomicBool>,
}

impl BlackHoleProxy {
    /// Forwards connections to `upstream` (for example `127.0.0.1:6379`).
    ///
    /// # Panics
    /// If no port can be bound.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let swallowing = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let flag = Arc::clone(&swallowing);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let doomed = Arc::new(AtomicBool::new(false));
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else { continue };
                    let (flag, doomed) = (Arc::clone(&flag), Arc::clone(&doomed));
                    std::thread::spawn(move || pump(from, to, &flag, &doomed));
                }
            }
        });
        Self { address, swallowing }
    }

    /// The address clients connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Turns the black hole on or off.
    pub fn swallow(&self, on: bool) {
        self.swallowing.store(on, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes, discarding everything once
/// the connection is doomed (it saw the black hole on).
fn pump(mut from: TcpStream, mut to: TcpStream, swallowing: &AtomicBool, doomed: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        if swallowing.load(Ordering::SeqCst) {
            doomed.store(true, Ordering::SeqCst);
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if swallowing.load(Ordering::SeqCst) {
                    doomed.store(true, Ordering::SeqCst);
                }
                if !doomed.load(Ordering::SeqCst) && to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
