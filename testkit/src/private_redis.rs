//! [`PrivateRedis`]: a `redis-server` process of the test's own, for tests
//! that change a server's settings (`CONFIG SET maxmemory`), pause it
//! (`CLIENT PAUSE`), kill or restart it: never the shared stack's server,
//! which other tests use at the same time.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A real `redis-server` on a free port of 127.0.0.1 that keeps nothing on
/// disk; killed when dropped.
#[derive(Debug)]
pub struct PrivateRedis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one and waits until it answers PING.
    ///
    /// # Panics
    /// If `redis-server` cannot start or does not answer within 10 s.
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("testkit-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("private redis directory");
        let mut redis = Self { port, dir, child: None };
        redis.restart();
        redis
    }

    /// Starts the server again on the same port, empty (after [`Self::kill`]).
    ///
    /// # Panics
    /// As [`Self::start`], or if the server is running.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the private redis-server is running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--databases", "4"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/install-deps installs it)");
        self.child = Some(child);
        let started = Instant::now();
        while self.connection().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on {} not up",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its URL (database 0).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new connection to it, checked with PING.
    ///
    /// # Errors
    /// If it does not answer within a second.
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

    /// Makes the server hold every client's commands for `duration`
    /// (`CLIENT PAUSE <ms> ALL`): a slow Redis.
    ///
    /// # Panics
    /// If the server does not answer.
    pub fn pause(&self, duration: Duration) {
        let mut conn = self.connection().expect("private redis connection");
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(duration.as_millis().to_string())
            .arg("ALL")
            .exec(&mut conn)
            .expect("CLIENT PAUSE");
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
