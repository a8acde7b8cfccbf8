//! [`PrivateRedis`]: a `redis-server` process of one's own, for tests that
//! change a server's settings (`CONFIG SET maxmemory`), pause it or kill it,
//! which must not disturb the tests sharing the stack's Redis.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A real `redis-server` on a free port of 127.0.0.1, without persistence;
/// killed when dropped.
#[derive(Debug)]
pub struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    /// Starts one and waits until it answers PING.
    ///
    /// # Panics
    /// If `redis-server` cannot start or does not answer within 10 s.
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--databases", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/install-deps installs it)");
        let redis = Self { child, port };
        let started = Instant::now();
        while redis.connection().is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server on {port} not up");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    /// Its URL (database 0).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new connection to it.
    ///
    /// # Errors
    /// If it does not answer.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
        redis::cmd("PING").query::<String>(&mut conn)?;
        Ok(conn)
    }

    /// Runs `CONFIG SET <name> <value>`.
    ///
    /// # Panics
    /// If Redis refuses it.
    pub fn config_set(&self, name: &str, value: &str) {
        let mut conn = self.connection().expect("private redis connection");
        redis::cmd("CONFIG").arg("SET").arg(name).arg(value).exec(&mut conn).expect("CONFIG SET");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
